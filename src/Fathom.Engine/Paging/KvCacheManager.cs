using Fathom.Model;

namespace Fathom.Engine.Paging;

/// <summary>
/// The paged KV cache as the scheduler uses it: storage, allocator and prefix cache kept consistent. Every
/// change of page ownership goes through here. Not thread-safe (the scheduler thread owns it); the counters
/// may be read from any thread.
/// </summary>
public sealed class KvCacheManager
{
    private readonly PageAllocator _allocator;
    private readonly PrefixCache? _prefix;
    private long _lookupTokens;
    private long _hitTokens;

    /// <summary>Accounting over pages in host memory (a CPU pass's storage).</summary>
    public KvCacheManager(ModelConfig config, int pageCount, int pageSize, bool prefixCaching = true)
        : this(new PagedKvStorage(config, pageCount, pageSize), prefixCaching)
    {
    }

    /// <summary>Accounting over the pages of <paramref name="storage"/>, wherever the pass keeps them.</summary>
    public KvCacheManager(IPagedKvPool storage, bool prefixCaching = true)
    {
        Storage = storage;
        _allocator = new PageAllocator(storage.PageCount);
        _prefix = prefixCaching ? new PrefixCache(storage.PageCount, storage.PageSize) : null;
    }

    public IPagedKvPool Storage { get; }

    public int PageSize => Storage.PageSize;

    public int PageCount => Storage.PageCount;

    /// <summary>Pages held by at least one sequence.</summary>
    public int UsedPages => _allocator.UsedCount;

    /// <summary>Pages a sequence could get now: free ones plus idle cached ones that may be evicted.</summary>
    public int AvailablePages => _allocator.FreeCount + (_prefix?.IdleCount ?? 0);

    /// <summary>Prompt tokens looked up in the prefix cache, and those found there.</summary>
    public long LookupTokens => Interlocked.Read(ref _lookupTokens);

    public long HitTokens => Interlocked.Read(ref _hitTokens);

    /// <summary>Counts a prompt's lookup once, when its request is admitted.</summary>
    public void RecordLookup(int promptTokens, int reusedTokens)
    {
        Interlocked.Add(ref _lookupTokens, promptTokens);
        Interlocked.Add(ref _hitTokens, reusedTokens);
    }

    public int PagesFor(int tokens) => (tokens + PageSize - 1) / PageSize;

    public PagedSequenceCache CreateSequence() => new(Storage.CreateSequence());

    /// <summary>
    /// Starts an empty sequence from the longest cached run of full pages of <paramref name="tokens"/>,
    /// leaving at least one token to compute (its logits are needed). Returns the tokens reused.
    /// </summary>
    public int AttachPrefix(PagedSequenceCache cache, ReadOnlySpan<int> tokens)
    {
        if (cache.Length != 0 || cache.Pages.Count != 0)
        {
            throw new InvalidOperationException("a prefix can only start an empty sequence");
        }

        if (_prefix is null)
        {
            return 0;
        }

        int size = PageSize;
        ulong parent = PrefixCache.Root;
        var hashes = cache.PageHashes;
        var pages = new List<int>();
        for (int start = 0; start + size < tokens.Length; start += size)
        {
            var pageTokens = tokens.Slice(start, size);
            int page = _prefix.Find(parent, pageTokens);
            if (page < 0)
            {
                break;
            }

            _allocator.Retain(page);
            _prefix.MarkBusy(page);
            pages.Add(page);
            parent = PrefixCache.Hash(parent, pageTokens);
            hashes.Add(parent);
        }

        int reused = pages.Count * size;
        cache.Adopt(pages, reused);
        return reused;
    }

    /// <summary>Adds pages until the sequence can hold <paramref name="length"/> tokens; false (nothing added) when the pool cannot.</summary>
    public bool TryReserve(PagedSequenceCache cache, int length)
    {
        int needed = PagesFor(length) - cache.Pages.Count;
        if (needed <= 0)
        {
            return true;
        }

        if (needed > AvailablePages)
        {
            return false;
        }

        for (int i = 0; i < needed; i++)
        {
            if (!_allocator.TryAllocate(out int page))
            {
                _prefix!.TryEvict(out page);
                _allocator.Free(page);
                _allocator.TryAllocate(out page);
            }

            cache.AddPage(page);
        }

        return true;
    }

    /// <summary>Makes the sequence's newly completed full pages findable by later requests.</summary>
    public void PublishFullPages(PagedSequenceCache cache, ReadOnlySpan<int> tokens)
    {
        if (_prefix is null)
        {
            return;
        }

        var hashes = cache.PageHashes;
        int size = PageSize;
        for (int p = hashes.Count; (p + 1) * size <= cache.Length; p++)
        {
            ulong parent = p == 0 ? PrefixCache.Root : hashes[p - 1];
            var pageTokens = tokens.Slice(p * size, size);
            _prefix.Register(cache.Pages[p], parent, pageTokens);
            hashes.Add(PrefixCache.Hash(parent, pageTokens));
        }
    }

    /// <summary>Lets go of every page of the sequence at once; cached pages stay idle for later hits, the rest are freed.</summary>
    public void Release(PagedSequenceCache cache)
    {
        foreach (int page in cache.Pages)
        {
            if (!_allocator.Release(page))
            {
                continue;
            }

            if (_prefix is not null && _prefix.IsRegistered(page))
            {
                _prefix.MarkIdle(page);
            }
            else
            {
                _allocator.Free(page);
            }
        }

        cache.Clear();
    }
}
