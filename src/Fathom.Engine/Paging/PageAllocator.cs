namespace Fathom.Engine.Paging;

/// <summary>
/// Which KV pages are free and how many holders each used page has. Touches no cache memory: pages are
/// numbers here; <see cref="KvPageStorage"/> owns the values. Not thread-safe (the scheduler thread owns it).
/// </summary>
public sealed class PageAllocator
{
    private readonly int[] _refCounts;
    private readonly Stack<int> _free;

    public PageAllocator(int pageCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageCount, 1);
        _refCounts = new int[pageCount];
        _free = new Stack<int>(pageCount);

        // Low page numbers first, so a small load stays in the low (already touched) part of the pool.
        for (int p = pageCount - 1; p >= 0; p--)
        {
            _free.Push(p);
        }
    }

    public int PageCount => _refCounts.Length;

    public int FreeCount => _free.Count;

    /// <summary>Pages with at least one holder.</summary>
    public int UsedCount { get; private set; }

    public int RefCount(int page) => _refCounts[page];

    /// <summary>Takes a free page with one holder; false when none is free.</summary>
    public bool TryAllocate(out int page)
    {
        if (!_free.TryPop(out page))
        {
            page = -1;
            return false;
        }

        _refCounts[page] = 1;
        UsedCount++;
        return true;
    }

    /// <summary>Adds a holder to a page that has holders, or revives an idle page (refcount 0, not free) held elsewhere.</summary>
    public void Retain(int page)
    {
        if (_refCounts[page]++ == 0)
        {
            UsedCount++;
        }
    }

    /// <summary>Drops a holder; returns true when the page has none left (the caller decides: <see cref="Free"/> or keep it idle).</summary>
    public bool Release(int page)
    {
        if (_refCounts[page] <= 0)
        {
            throw new InvalidOperationException($"page {page} released more often than it was held");
        }

        if (--_refCounts[page] > 0)
        {
            return false;
        }

        UsedCount--;
        return true;
    }

    /// <summary>Returns a page without holders to the free list.</summary>
    public void Free(int page)
    {
        if (_refCounts[page] != 0)
        {
            throw new InvalidOperationException($"page {page} still has {_refCounts[page]} holders");
        }

        _free.Push(page);
    }
}
