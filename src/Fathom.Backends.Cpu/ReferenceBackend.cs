using Fathom.Core;

namespace Fathom.Backends.Cpu;

/// <summary>
/// The oracle: every op as the plainest loop, single-threaded, accumulating in double. Slow by design;
/// the fast backends are tested against it.
/// </summary>
public sealed class ReferenceBackend : IBackend
{
    public string Name => "reference";

    public void MatMul(in WeightMatrix weight, ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        CheckLengths(x, (long)rows * weight.Cols, y, (long)rows * weight.Rows);
        var w = new float[weight.Cols];
        for (int o = 0; o < weight.Rows; o++)
        {
            weight.DequantizeRow(o, w);
            for (int r = 0; r < rows; r++)
            {
                double sum = 0;
                var xr = x.Slice(r * weight.Cols, weight.Cols);
                for (int i = 0; i < w.Length; i++)
                {
                    sum += (double)xr[i] * w[i];
                }

                y[(r * weight.Rows) + o] = (float)sum;
            }
        }
    }

    public void MatMulTransposed(in WeightMatrix weight, ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        CheckLengths(x, (long)rows * weight.Rows, y, (long)rows * weight.Cols);
        var acc = new double[rows * weight.Cols];
        var w = new float[weight.Cols];
        for (int k = 0; k < weight.Rows; k++)
        {
            weight.DequantizeRow(k, w);
            for (int r = 0; r < rows; r++)
            {
                double a = x[(r * weight.Rows) + k];
                for (int c = 0; c < w.Length; c++)
                {
                    acc[(r * weight.Cols) + c] += a * w[c];
                }
            }
        }

        for (int i = 0; i < acc.Length; i++)
        {
            y[i] = (float)acc[i];
        }
    }

    public void Embedding(in WeightMatrix table, ReadOnlySpan<int> ids, Span<float> y)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)table.Rows)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {ids[i]} outside the vocabulary [0, {table.Rows})");
            }

            table.DequantizeRow(ids[i], y.Slice(i * table.Cols, table.Cols));
        }
    }

    public void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        int width = weight.Length;
        for (int r = 0; r < x.Length / width; r++)
        {
            var xr = x.Slice(r * width, width);
            double sumSquares = 0;
            foreach (float v in xr)
            {
                sumSquares += (double)v * v;
            }

            double inv = 1.0 / Math.Sqrt((sumSquares / width) + eps);
            for (int i = 0; i < width; i++)
            {
                y[(r * width) + i] = (float)(weight[i] * (xr[i] * inv));
            }
        }
    }

    public void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            double g = gate[i];
            y[i] = (float)(g / (1 + Math.Exp(-g)) * up[i]);
        }
    }

    public void ScaleAdd(ReadOnlySpan<float> x, float a, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = (float)(y[i] + ((double)a * x[i]));
        }
    }

    public void Softmax(Span<float> x)
    {
        double max = double.NegativeInfinity;
        foreach (float v in x)
        {
            max = Math.Max(max, v);
        }

        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += Math.Exp(x[i] - max);
        }

        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(Math.Exp(x[i] - max) / sum);
        }
    }

    public void RopeInterleaved(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        for (int i = 0; i < cos.Length; i++)
        {
            double a = x[2 * i], b = x[(2 * i) + 1];
            x[2 * i] = (float)((a * cos[i]) - (b * sin[i]));
            x[(2 * i) + 1] = (float)((a * sin[i]) + (b * cos[i]));
        }
    }

    internal static void CheckLengths(ReadOnlySpan<float> x, long xNeeded, Span<float> y, long yNeeded)
    {
        if (x.Length < xNeeded || y.Length < yNeeded)
        {
            throw new ArgumentException($"buffers too short: x {x.Length} < {xNeeded} or y {y.Length} < {yNeeded}");
        }
    }
}
