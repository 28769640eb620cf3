using Fathom.Model;

namespace Fathom.Backends.Cuda;

/// <summary>
/// One sequence's row of the device page table and its length. Two kinds: <see cref="CudaOwnedSequenceCache"/>
/// takes pages from the pool as it grows (generate, chat); <see cref="CudaPagedSequenceCache"/> is given
/// its pages by a caller that keeps the page accounting (the serving engine).
/// </summary>
public abstract class CudaSequenceCache : ISequenceCache
{
    private protected CudaSequenceCache(CudaKvPool pool, object owner)
    {
        Pool = pool;
        Owner = owner;
    }

    public int Length { get; private set; }

    public abstract int Capacity { get; }

    internal object Owner { get; }

    private protected CudaKvPool Pool { get; }

    /// <summary>This sequence's row of the page table.</summary>
    internal abstract int Slot { get; }

    /// <summary>Device pages in position order.</summary>
    private protected abstract ReadOnlySpan<int> DevicePages { get; }

    /// <summary>Makes the page table hold pages for <paramref name="tokens"/> positions (on the device too) before a pass writes them.</summary>
    internal abstract void EnsurePages(int tokens);

    /// <summary>The cache row (within a layer's pool) of a position.</summary>
    internal long RowOf(int position) => ((long)DevicePages[position / Pool.PageTokens] * Pool.PageTokens) + (position % Pool.PageTokens);

    internal void Advance(int count)
    {
        if (count < -Length || Length + count > Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"cache length {Length} + {count} outside [0, {Capacity}]");
        }

        Length += count;
    }

    private protected void SetLength(int length) => Length = length;

    public void Truncate(int length) => Advance(Math.Min(length, Length) - Length);

    public abstract void Dispose();
}

/// <summary>A sequence that takes pages of the device latent cache as it grows and returns them when disposed.</summary>
public sealed class CudaOwnedSequenceCache : CudaSequenceCache
{
    private readonly int[] _pages;
    private readonly int _slot;
    private int _pageCount;
    private bool _disposed;

    internal CudaOwnedSequenceCache(CudaKvPool pool, object owner, int capacity)
        : base(pool, owner)
    {
        if (capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "the cache needs room for at least one token");
        }

        if (capacity > pool.PagesPerSequence * pool.PageTokens)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"the GPU cache holds at most {pool.PagesPerSequence * pool.PageTokens} tokens per sequence");
        }

        Capacity = capacity;
        _pages = new int[(capacity + pool.PageTokens - 1) / pool.PageTokens];
        _slot = pool.TakeSlot();
    }

    public override int Capacity { get; }

    internal override int Slot => _slot;

    private protected override ReadOnlySpan<int> DevicePages => _pages.AsSpan(0, _pageCount);

    internal override void EnsurePages(int tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int needed = (tokens + Pool.PageTokens - 1) / Pool.PageTokens;
        int had = _pageCount;
        if (needed <= had)
        {
            return;
        }

        while (_pageCount < needed)
        {
            _pages[_pageCount++] = Pool.TakePage();
        }

        Pool.WriteTable(Slot, _pages.AsSpan(0, _pageCount), had);
    }

    public override void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (int page in _pages.AsSpan(0, _pageCount))
        {
            Pool.ReturnPage(page);
        }

        _pageCount = 0;
        Pool.ReturnSlot(_slot);
    }
}
