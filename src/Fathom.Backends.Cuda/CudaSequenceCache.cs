using Fathom.Model;

namespace Fathom.Backends.Cuda;

/// <summary>One sequence's pages of the device latent cache; pages are taken as the sequence grows.</summary>
public sealed class CudaSequenceCache : ISequenceCache
{
    private readonly CudaKvPool _pool;
    private readonly int[] _pages;
    private int _pageCount;
    private bool _disposed;

    internal CudaSequenceCache(CudaKvPool pool, object owner, int capacity)
    {
        if (capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "the cache needs room for at least one token");
        }

        if (capacity > pool.PagesPerSequence * pool.PageTokens)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"the GPU cache holds at most {pool.PagesPerSequence * pool.PageTokens} tokens per sequence");
        }

        _pool = pool;
        Owner = owner;
        Capacity = capacity;
        _pages = new int[(capacity + pool.PageTokens - 1) / pool.PageTokens];
        Slot = pool.TakeSlot();
    }

    public int Length { get; private set; }

    public int Capacity { get; }

    internal object Owner { get; }

    /// <summary>This sequence's row of the page table.</summary>
    internal int Slot { get; }

    internal void EnsurePages(int tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int needed = (tokens + _pool.PageTokens - 1) / _pool.PageTokens;
        int had = _pageCount;
        if (needed <= had)
        {
            return;
        }

        while (_pageCount < needed)
        {
            _pages[_pageCount++] = _pool.TakePage();
        }

        _pool.WriteTable(Slot, _pages.AsSpan(0, _pageCount), had);
    }

    /// <summary>The cache row (within a layer's pool) of a position.</summary>
    internal long RowOf(int position) => ((long)_pages[position / _pool.PageTokens] * _pool.PageTokens) + (position % _pool.PageTokens);

    internal void Advance(int count)
    {
        if (count < -Length || Length + count > Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"cache length {Length} + {count} outside [0, {Capacity}]");
        }

        Length += count;
    }

    public void Truncate(int length) => Advance(Math.Min(length, Length) - Length);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (int page in _pages.AsSpan(0, _pageCount))
        {
            _pool.ReturnPage(page);
        }

        _pageCount = 0;
        _pool.ReturnSlot(Slot);
    }
}
