namespace Fathom.Engine.Serving;

/// <summary>A cumulative histogram with fixed upper bounds (Prometheus' model); safe to update from any thread.</summary>
public sealed class Histogram
{
    private readonly double[] _bounds;
    private readonly long[] _counts;
    private long _count;
    private double _sum;
    private readonly Lock _sumLock = new();

    public Histogram(params double[] bounds)
    {
        _bounds = bounds;
        _counts = new long[bounds.Length];
    }

    public IReadOnlyList<double> Bounds => _bounds;

    public long Count => Interlocked.Read(ref _count);

    public double Sum
    {
        get
        {
            lock (_sumLock)
            {
                return _sum;
            }
        }
    }

    /// <summary>Observations ≤ the bound of bucket <paramref name="i"/>.</summary>
    public long CumulativeCount(int i) => Interlocked.Read(ref _counts[i]);

    public void Observe(double value)
    {
        for (int i = 0; i < _bounds.Length; i++)
        {
            if (value <= _bounds[i])
            {
                Interlocked.Increment(ref _counts[i]);
            }
        }

        Interlocked.Increment(ref _count);
        lock (_sumLock)
        {
            _sum += value;
        }
    }
}
