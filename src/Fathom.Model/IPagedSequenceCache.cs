namespace Fathom.Model;

/// <summary>
/// A sequence's cache over an <see cref="IPagedKvPool"/>: position p lives in page Pages[p / page size],
/// slot p % page size. The caller owns the page table (pages may be shared between sequences, full ones
/// only); <see cref="ISequenceCache.Capacity"/> is what the pages hold.
/// </summary>
public interface IPagedSequenceCache : ISequenceCache
{
    IReadOnlyList<int> Pages { get; }

    /// <summary>Appends a page to the table.</summary>
    void AddPage(int page);

    /// <summary>Starts from pages that already hold <paramref name="length"/> computed tokens (a prefix-cache hit).</summary>
    void Adopt(IReadOnlyList<int> pages, int length);

    /// <summary>Empties the table; the caller accounts for the pages.</summary>
    void Clear();
}
