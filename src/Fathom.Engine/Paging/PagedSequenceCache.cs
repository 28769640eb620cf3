using Fathom.Model;

namespace Fathom.Engine.Paging;

/// <summary>
/// One sequence as the page accounting sees it: the forward pass's paged cache (<see cref="Storage"/>,
/// whose page table this side fills) and the prefix-cache hashes of its published full pages.
/// </summary>
public sealed class PagedSequenceCache(IPagedSequenceCache storage)
{
    /// <summary>The pass's cache of this sequence: what a forward pass is given.</summary>
    public IPagedSequenceCache Storage { get; } = storage;

    public int Length => Storage.Length;

    public int Capacity => Storage.Capacity;

    public IReadOnlyList<int> Pages => Storage.Pages;

    /// <summary>The chained prefix-cache hashes of the full pages published so far.</summary>
    internal List<ulong> PageHashes { get; } = [];

    internal void AddPage(int page) => Storage.AddPage(page);

    internal void Adopt(IReadOnlyList<int> pages, int length) => Storage.Adopt(pages, length);

    /// <summary>Empties the table; the caller releases the pages.</summary>
    internal void Clear()
    {
        Storage.Clear();
        PageHashes.Clear();
    }
}
