using Fathom.Core;

namespace Fathom.Model;

/// <summary>What the calibration saw at the input of one linear weight: Σ xᵀx, Σ |x| per channel, and the row count.</summary>
internal sealed class InputStatistics(int cols)
{
    public int Cols { get; } = cols;

    /// <summary>[Cols, Cols] Σ xᵀx over every input row.</summary>
    public float[] Hessian { get; } = new float[(long)cols * cols];

    public double[] AbsSum { get; } = new double[cols];

    public long Rows { get; set; }

    public float[] MeanAbs()
    {
        var mean = new float[Cols];
        for (int i = 0; i < Cols; i++)
        {
            mean[i] = Rows == 0 ? 0 : (float)(AbsSum[i] / Rows);
        }

        return mean;
    }
}

/// <summary>
/// A backend that passes every operation through and, for the linear weights it was told to watch,
/// accumulates input statistics before the product. Weights are recognised by their storage address
/// (row-sliced views of a watched weight, such as kv_b_proj's per-head slices, count as that weight; the
/// same input given to several slices of one weight in a row is counted once). Σ xᵀx is itself computed
/// with the inner backend's matrix product.
/// </summary>
internal sealed unsafe class CalibrationRecorder(IBackend inner) : IBackend
{
    private readonly List<(nint Begin, nint End, int Cols, InputStatistics Stats)> _watched = [];
    private float[] _transposed = [];
    private float[] _product = [];
    private (nint X, int Rows, InputStatistics? Stats) _last;

    public string Name => inner.Name;

    public InputStatistics Watch(in WeightMatrix w)
    {
        var stats = new InputStatistics(w.Cols);
        nint begin = (nint)w.RowPointer(0);
        _watched.Add((begin, begin + (nint)w.Type.BytesFor((long)w.Rows * w.RowStride), w.Cols, stats));
        return stats;
    }

    public void Clear()
    {
        _watched.Clear();
        _last = default;
    }

    public void MatMul(in WeightMatrix weight, ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        Record(weight, x, rows);
        inner.MatMul(weight, x, y, rows);
    }

    private void Record(in WeightMatrix weight, ReadOnlySpan<float> x, int rows)
    {
        if (rows == 0 || weight.Rows == 0)
        {
            return;
        }

        nint at = (nint)weight.RowPointer(0);
        foreach (var (begin, end, cols, stats) in _watched)
        {
            if (at < begin || at >= end || cols != weight.Cols)
            {
                continue;
            }

            fixed (float* px = x)
            {
                if (_last == ((nint)px, rows, stats))
                {
                    return;
                }

                _last = ((nint)px, rows, stats);
            }

            Accumulate(stats, x[..(rows * cols)], rows);
            return;
        }
    }

    private void Accumulate(InputStatistics stats, ReadOnlySpan<float> x, int rows)
    {
        int cols = stats.Cols;
        _transposed = PinnedBuffer.Ensure(_transposed, cols * rows);
        _product = PinnedBuffer.Ensure(_product, cols * cols);
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            for (int c = 0; c < cols; c++)
            {
                _transposed[(c * rows) + r] = row[c];
                stats.AbsSum[c] += MathF.Abs(row[c]);
            }
        }

        // Xᵀ as a [cols, rows] matrix times itself: y = Xᵀ (Xᵀ)ᵀ = Σ xᵀx.
        var t = WeightMatrix.FromPinned(_transposed, cols, rows);
        inner.MatMul(t, _transposed.AsSpan(0, cols * rows), _product.AsSpan(0, cols * cols), cols);
        System.Numerics.Tensors.TensorPrimitives.Add(stats.Hessian, _product.AsSpan(0, cols * cols), stats.Hessian);
        stats.Rows += rows;
    }

    public void MatMulTransposed(in WeightMatrix weight, ReadOnlySpan<float> x, Span<float> y, int rows) => inner.MatMulTransposed(weight, x, y, rows);

    public void Embedding(in WeightMatrix table, ReadOnlySpan<int> ids, Span<float> y) => inner.Embedding(table, ids, y);

    public void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        // A norm starts a new sub-block of the layer: an input seen again after it is a new input.
        _last = default;
        inner.RmsNorm(x, weight, eps, y);
    }

    public void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y) => inner.SiluMul(gate, up, y);

    public void ScaleAdd(ReadOnlySpan<float> x, float a, Span<float> y) => inner.ScaleAdd(x, a, y);

    public void Softmax(Span<float> x) => inner.Softmax(x);

    public void RopeInterleaved(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin) => inner.RopeInterleaved(x, cos, sin);
}
