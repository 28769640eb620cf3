namespace Fathom.Model;

/// <summary>
/// Where each sequence's rows lie in a batched forward pass: sequence s owns rows
/// [RowStart[s], RowStart[s] + RowCount[s]) and writes its keys into Caches[s] from its current length.
/// Reused from pass to pass.
/// </summary>
internal sealed class BatchLayout
{
    private int[] _rowStart = new int[4];
    private int[] _rowCount = new int[4];
    private IKvCache[] _caches = new IKvCache[4];

    public int Count { get; private set; }

    public int TotalRows { get; private set; }

    public ReadOnlySpan<int> RowStart => _rowStart.AsSpan(0, Count);

    public ReadOnlySpan<int> RowCount => _rowCount.AsSpan(0, Count);

    public ReadOnlySpan<IKvCache> Caches => _caches.AsSpan(0, Count);

    public void Clear()
    {
        _caches.AsSpan(0, Count).Clear();
        Count = 0;
        TotalRows = 0;
    }

    public void Add(int rows, IKvCache cache)
    {
        if (Count == _caches.Length)
        {
            Array.Resize(ref _rowStart, Count * 2);
            Array.Resize(ref _rowCount, Count * 2);
            Array.Resize(ref _caches, Count * 2);
        }

        _rowStart[Count] = TotalRows;
        _rowCount[Count] = rows;
        _caches[Count] = cache;
        Count++;
        TotalRows += rows;
    }
}
