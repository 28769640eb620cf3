using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fathom.Core;
using Fathom.Backends.Cpu.Kernels;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>A block-format weight matrix made from random float weights, with both the floats and the decoded values.</summary>
internal sealed unsafe class QuantizedWeights
{
    private QuantizedWeights(WeightMatrix matrix, float[] original, float[] decoded)
    {
        Matrix = matrix;
        Original = original;
        Decoded = decoded;
    }

    public WeightMatrix Matrix { get; }

    /// <summary>The float weights before encoding, row-major.</summary>
    public float[] Original { get; }

    /// <summary>The weights as stored (decoded through WeightMatrix), row-major.</summary>
    public float[] Decoded { get; }

    public static QuantizedWeights Create(DType type, int rows, int cols, int seed, double sigma = 0.05)
    {
        var random = new Random(seed);
        var original = new float[rows * cols];
        for (int i = 0; i < original.Length; i++)
        {
            // Bell-shaped weights with a few larger ones, and some rows offset so that Q4_K mins are not all alike.
            double u = (random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * 2 * sigma;
            original[i] = (float)(random.Next(50) == 0 ? 4 * u : u + ((i / cols) % 3 == 1 ? sigma : 0));
        }

        long rowBytes = type.BytesFor(cols);
        var bytes = GC.AllocateArray<byte>((int)Math.Max(1, rowBytes * rows), pinned: true);
        byte* p = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(bytes));
        for (int r = 0; r < rows; r++)
        {
            BlockQuantization.QuantizeRow(type, original.AsSpan(r * cols, cols), p + (r * rowBytes));
        }

        var matrix = new WeightMatrix(type, p, rows, cols, cols, bytes);
        var decoded = new float[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            matrix.DequantizeRow(r, decoded.AsSpan(r * cols, cols));
        }

        return new QuantizedWeights(matrix, original, decoded);
    }

    /// <summary>Random activations in [-1, 1) with an occasional outlier, as hidden states have.</summary>
    public static float[] Activations(int length, int seed)
    {
        var random = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1) * (random.Next(100) == 0 ? 8 : 1);
        }

        return x;
    }

    /// <summary>
    /// Σ_c |w_c|·|x_c| over the parts the kernel adds separately (for Q4_K, d·scale·q and dmin·min), which
    /// bounds the float32 rounding of its sums.
    /// </summary>
    public double Magnitude(int row, ReadOnlySpan<double> x)
    {
        int cols = Matrix.Cols;
        double sum = 0;
        byte* p = Matrix.RowPointer(row);
        for (int c = 0; c < cols; c++)
        {
            double w = Math.Abs(Decoded[(row * cols) + c]);
            if (Matrix.Type == DType.Q4K)
            {
                byte* block = p + ((c / 256) * Q4K.BlockBytes);
                Q4K.GetScaleMin((c % 256) / 32, block + Q4K.ScalesOffset, out _, out byte min);
                w += 2 * (float)*(Half*)(block + 2) * min;
            }

            sum += w * Math.Abs(x[c]);
        }

        return sum;
    }
}

/// <summary>The quantized kernels under test, on a chosen instruction set, and the activations they quantized.</summary>
internal static unsafe class QuantizedKernels
{
    public static IMatMulKernel Create(DType type, string pathName) => Create(type, Enum.Parse<IntegerDotPath>(pathName));

    public static IMatMulKernel Create(DType type, IntegerDotPath path) => type switch
    {
        DType.Q8_0 => new Q8_0MatMulKernel(1, path),
        DType.Q4K => new Q4KMatMulKernel(1, path),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>The value activation (row, col) was quantized to by the last Prepare.</summary>
    public static double Activation(IMatMulKernel kernel, int row, int col) => kernel switch
    {
        Q8_0MatMulKernel q8 => q8.Activations.Value(row, col),
        Q4KMatMulKernel q4 => q4.Activations.Value(row, col),
        _ => throw new ArgumentOutOfRangeException(nameof(kernel)),
    };

    /// <summary>The instruction sets this CPU runs, by name (theory data must be public).</summary>
    public static string[] SupportedPaths =>
        [.. Enum.GetValues<IntegerDotPath>().Where(IntegerDotPaths.IsSupported).Select(p => p.ToString())];
}
