using Fathom.Model;

namespace Fathom.Engine.Paging;

/// <summary>
/// One sequence's view of the paged cache: its page table (position p lives in page Pages[p / page_size],
/// slot p % page_size) over the shared storage. Capacity is what its pages hold; the scheduler adds pages
/// before a forward pass needs them.
/// </summary>
public sealed class PagedSequenceCache(KvPageStorage storage) : IKvCache
{
    private readonly List<int> _pages = [];

    public int Length { get; private set; }

    public int Capacity => _pages.Count * storage.PageSize;

    public IReadOnlyList<int> Pages => _pages;

    /// <summary>The chained prefix-cache hashes of the full pages published so far.</summary>
    internal List<ulong> PageHashes { get; } = [];

    public int PageSize => storage.PageSize;

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

    /// <summary>Forgets positions from <paramref name="length"/> on; pages already published to the prefix cache stay whole.</summary>
    public void Truncate(int length)
    {
        if (length < PageHashes.Count * storage.PageSize || length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"cannot truncate a paged cache of {Length} tokens ({PageHashes.Count} pages shared) to {length}");
        }

        Length = length;
    }

    /// <summary>The pages belong to the <see cref="KvCacheManager"/>, which releases them; nothing to do here.</summary>
    public void Dispose()
    {
    }

    /// <summary>Appends a page to the table.</summary>
    internal void AddPage(int page) => _pages.Add(page);

    /// <summary>Starts from pages that already hold <paramref name="length"/> computed tokens (a prefix-cache hit).</summary>
    internal void Adopt(IReadOnlyList<int> pages, int length)
    {
        _pages.Clear();
        _pages.AddRange(pages);
        Length = length;
    }

    /// <summary>Empties the table; the caller releases the pages.</summary>
    internal void Clear()
    {
        _pages.Clear();
        PageHashes.Clear();
        Length = 0;
    }
}
