using Fathom.Engine.Paging;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Engine.Tests;

/// <summary>Page allocator, prefix cache and the manager that keeps them consistent.</summary>
public sealed class PagedKvCacheTests
{
    /// <summary>The host pass's cache under the accounting record (what a CPU forward pass reads and writes).</summary>
    private static PagedKvCache Host(PagedSequenceCache sequence) => (PagedKvCache)sequence.Storage;

    private static ModelConfig Config() => ModelConfig.Load(Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model", "config.json"));

    [Fact]
    public void AllocatorHandsOutEachPageOnceAndTakesThemBack()
    {
        var allocator = new PageAllocator(3);
        Assert.True(allocator.TryAllocate(out int a));
        Assert.True(allocator.TryAllocate(out int b));
        Assert.True(allocator.TryAllocate(out int c));
        Assert.Equal(3, new HashSet<int> { a, b, c }.Count);
        Assert.False(allocator.TryAllocate(out _));
        Assert.Equal(3, allocator.UsedCount);

        allocator.Retain(b);
        Assert.False(allocator.Release(b));
        Assert.True(allocator.Release(b));
        Assert.Throws<InvalidOperationException>(() => allocator.Release(b));
        allocator.Free(b);
        Assert.True(allocator.TryAllocate(out int again));
        Assert.Equal(b, again);
        Assert.Throws<InvalidOperationException>(() => allocator.Free(a));
    }

    [Fact]
    public void PrefixCacheMatchesOnlyTheSameTokensAfterTheSamePrefix()
    {
        var cache = new PrefixCache(8, 4);
        int[] first = [1, 2, 3, 4], second = [5, 6, 7, 8];
        ulong h1 = PrefixCache.Hash(PrefixCache.Root, first);
        Assert.True(cache.Register(0, PrefixCache.Root, first));
        Assert.True(cache.Register(1, h1, second));
        Assert.False(cache.Register(2, PrefixCache.Root, first));   // an equal page is cached already
        Assert.Equal(0, cache.Find(PrefixCache.Root, first));
        Assert.Equal(1, cache.Find(h1, second));
        Assert.Equal(-1, cache.Find(PrefixCache.Root, second));     // same tokens, other prefix
        Assert.Equal(-1, cache.Find(h1, [5, 6, 7, 9]));
    }

    [Fact]
    public void IdlePagesAreEvictedLeastRecentlyUsedFirst()
    {
        var cache = new PrefixCache(4, 2);
        cache.Register(0, PrefixCache.Root, [1, 2]);
        cache.Register(1, PrefixCache.Root, [3, 4]);
        cache.Register(2, PrefixCache.Root, [5, 6]);
        cache.MarkIdle(1);
        cache.MarkIdle(0);
        cache.MarkIdle(2);
        cache.MarkBusy(1);   // a hit takes page 1 out of the idle list
        cache.MarkIdle(1);   // ... and it comes back as the most recently used
        Assert.True(cache.TryEvict(out int p));
        Assert.Equal(0, p);
        Assert.Equal(-1, cache.Find(PrefixCache.Root, [1, 2]));
        Assert.True(cache.TryEvict(out p));
        Assert.Equal(2, p);
        Assert.True(cache.TryEvict(out p));
        Assert.Equal(1, p);
        Assert.False(cache.TryEvict(out _));
    }

    [Fact]
    public void SharedPrefixPagesAreReusedRefCountedAndEvictedWhenThePoolRunsOut()
    {
        var kv = new KvCacheManager(Config(), pageCount: 4, pageSize: 4);
        int[] prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9];

        var a = kv.CreateSequence();
        Assert.Equal(0, kv.AttachPrefix(a, prompt));
        Assert.True(kv.TryReserve(a, prompt.Length));
        Assert.Equal(3, a.Pages.Count);
        Host(a).Advance(prompt.Length);
        kv.PublishFullPages(a, prompt);

        var b = kv.CreateSequence();
        Assert.Equal(8, kv.AttachPrefix(b, prompt));                 // two full pages, the last token is computed again
        Assert.Equal(a.Pages.Take(2), b.Pages);
        Assert.Equal(3, kv.UsedPages);
        Assert.False(kv.TryReserve(b, 20));                          // 5 pages: more than the pool
        Assert.True(kv.TryReserve(b, 12));
        Assert.Equal(4, kv.UsedPages);

        kv.Release(a);
        Assert.Equal(3, kv.UsedPages);                               // the shared pages are still held by b
        kv.Release(b);
        Assert.Equal(0, kv.UsedPages);
        Assert.Equal(4, kv.AvailablePages);                          // 2 free + 2 idle cached

        var c = kv.CreateSequence();
        Assert.Equal(8, kv.AttachPrefix(c, prompt));                 // idle pages still hit
        kv.Release(c);

        var d = kv.CreateSequence();
        Assert.True(kv.TryReserve(d, 16));                           // needs every page: the cached ones are evicted
        Assert.Equal(4, kv.UsedPages);
        kv.Release(d);
        Assert.Equal(0, kv.AttachPrefix(kv.CreateSequence(), prompt));
    }

    [Fact]
    public void PagedRowsGatherInPositionOrder()
    {
        var config = Config();
        var kv = new KvCacheManager(config, pageCount: 6, pageSize: 3);
        var other = kv.CreateSequence();
        var seq = kv.CreateSequence();
        kv.TryReserve(other, 3);                                     // interleave pages of two sequences
        kv.TryReserve(seq, 3);
        kv.TryReserve(other, 6);
        kv.TryReserve(seq, 7);
        int width = config.KvCacheWidth;
        for (int p = 0; p < 7; p++)
        {
            Host(seq).Row(1, p).Fill(p + 1);
        }

        Host(seq).Advance(7);
        var gathered = new float[7 * width];
        Host(seq).CopyRows(1, 7, gathered);
        for (int p = 0; p < 7; p++)
        {
            Assert.All(gathered.AsSpan(p * width, width).ToArray(), v => Assert.Equal(p + 1, v));
        }

        Assert.Null(Host(seq).ContiguousRows(1));
    }
}
