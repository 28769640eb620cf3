namespace Fathom.Model;

/// <summary>
/// What a pass can return per logits row instead of the whole vocabulary: the <see cref="K"/> largest
/// logits, largest first (equal values: the lower id first, as argmax and the sampler's top-k order them),
/// and the row's log-sum-exp. Enough for greedy decoding and top-k sampling (with top-p / min-p inside
/// the top k) while only a few bytes per row cross from the device.
/// </summary>
public sealed class LogitCandidates
{
    private readonly float[] _values;
    private readonly int[] _ids;
    private readonly float[] _logSumExp;

    public LogitCandidates(int maxRows, int maxK)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxK, 1);
        MaxRows = maxRows;
        MaxK = maxK;
        _values = new float[maxRows * maxK];
        _ids = new int[maxRows * maxK];
        _logSumExp = new float[maxRows];
    }

    public int MaxRows { get; }

    public int MaxK { get; }

    /// <summary>Rows of the last fill.</summary>
    public int Rows { get; private set; }

    /// <summary>Candidates per row of the last fill.</summary>
    public int K { get; private set; }

    /// <summary>Lays the buffers out for <paramref name="rows"/> rows of <paramref name="k"/> candidates (the pass calls this before filling).</summary>
    public void Reset(int rows, int k)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rows, MaxRows);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, MaxK);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        Rows = rows;
        K = k;
    }

    /// <summary>All rows' values, [Rows, K] (what a pass writes).</summary>
    public Span<float> AllValues => _values.AsSpan(0, Rows * K);

    /// <summary>All rows' token ids, [Rows, K].</summary>
    public Span<int> AllIds => _ids.AsSpan(0, Rows * K);

    /// <summary>All rows' log-sum-exp, [Rows].</summary>
    public Span<float> LogSumExp => _logSumExp.AsSpan(0, Rows);

    public ReadOnlySpan<float> Values(int row) => _values.AsSpan(row * K, K);

    public ReadOnlySpan<int> Ids(int row) => _ids.AsSpan(row * K, K);
}
