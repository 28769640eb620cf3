using Fathom.Model;

namespace Fathom.Backends.Cuda;

/// <summary>
/// A sequence over a <see cref="CudaPagedPool"/>: the caller sets its page table in the pool's page numbers
/// (shared full pages included); the device table row is written before the next pass that reads it. It
/// holds a page-table slot only while it has pages, so waiting requests cost no slot.
/// </summary>
public sealed class CudaPagedSequenceCache : CudaSequenceCache, IPagedSequenceCache
{
    private readonly CudaPagedPool _owner;
    private readonly List<int> _pages = [];
    private readonly int[] _device;
    private int _slot = -1;
    private int _dirtyFrom;

    internal CudaPagedSequenceCache(CudaPagedPool owner, CudaKvPool pool, object pass)
        : base(pool, pass)
    {
        _owner = owner;
        _device = new int[pool.PagesPerSequence];
    }

    public override int Capacity => _pages.Count * Pool.PageTokens;

    public IReadOnlyList<int> Pages => _pages;

    internal override int Slot => _slot;

    private protected override ReadOnlySpan<int> DevicePages => _device.AsSpan(0, _pages.Count);

    public void AddPage(int page)
    {
        if (_pages.Count == _device.Length)
        {
            throw new InvalidOperationException($"a sequence on the GPU holds at most {_device.Length * Pool.PageTokens} tokens (the page table's width)");
        }

        _device[_pages.Count] = _owner.DevicePage(page);
        _pages.Add(page);
        if (_slot < 0)
        {
            _slot = Pool.TakeSlot();
            _dirtyFrom = 0;
        }
    }

    public void Adopt(IReadOnlyList<int> pages, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, pages.Count * Pool.PageTokens);
        Clear();
        foreach (int page in pages)
        {
            AddPage(page);
        }

        SetLength(length);
    }

    public void Clear()
    {
        _pages.Clear();
        SetLength(0);
        if (_slot >= 0)
        {
            Pool.ReturnSlot(_slot);
            _slot = -1;
        }
    }

    internal override void EnsurePages(int tokens)
    {
        if (tokens > Capacity)
        {
            throw new InvalidOperationException($"the sequence needs room for {tokens} tokens but its pages hold {Capacity}: reserve pages first");
        }

        if (_dirtyFrom < _pages.Count)
        {
            Pool.WriteTable(_slot, _device.AsSpan(0, _pages.Count), _dirtyFrom);
            _dirtyFrom = _pages.Count;
        }
    }

    /// <summary>The pages belong to the caller's accounting; only the slot goes back.</summary>
    public override void Dispose() => Clear();
}
