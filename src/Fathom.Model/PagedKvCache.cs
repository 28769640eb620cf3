namespace Fathom.Model;

/// <summary>One sequence's page table over a <see cref="PagedKvStorage"/>, as the host attention reads it.</summary>
public sealed class PagedKvCache(PagedKvStorage storage) : IKvCache, IPagedSequenceCache
{
    private readonly List<int> _pages = [];

    public int Length { get; private set; }

    public int Capacity => _pages.Count * storage.PageSize;

    public IReadOnlyList<int> Pages => _pages;

    public Span<float> Row(int layer, int position) => storage.Row(layer, _pages[position / storage.PageSize], position % storage.PageSize);

    public float[]? ContiguousRows(int layer) => null;

    public void CopyRows(int layer, int count, Span<float> destination)
    {
        int size = storage.PageSize, width = storage.Width;
        for (int start = 0, i = 0; start < count; start += size, i++)
        {
            int rows = Math.Min(size, count - start);
            storage.PageRows(layer, _pages[i], rows).CopyTo(destination.Slice(start * width, rows * width));
        }
    }

    public void Advance(int count)
    {
        if (count < 0 || Length + count > Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"cache length {Length} + {count} outside [0, {Capacity}]");
        }

        Length += count;
    }

    public void Truncate(int length)
    {
        if (length < 0 || length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"cannot truncate a cache of {Length} tokens to {length}");
        }

        Length = length;
    }

    public void AddPage(int page)
    {
        if ((uint)page >= (uint)storage.PageCount)
        {
            throw new ArgumentOutOfRangeException(nameof(page), $"page {page} is outside the pool's {storage.PageCount}");
        }

        _pages.Add(page);
    }

    public void Adopt(IReadOnlyList<int> pages, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, pages.Count * storage.PageSize);
        _pages.Clear();
        _pages.AddRange(pages);
        Length = length;
    }

    public void Clear()
    {
        _pages.Clear();
        Length = 0;
    }

    /// <summary>The pages belong to whoever hands them out; nothing to return here.</summary>
    public void Dispose()
    {
    }
}
