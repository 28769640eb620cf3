using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Fathom.Core;

namespace Fathom.Backends.Cpu;

/// <summary>Vectorised dequantization of a row range into float32 (the SIMD twin of WeightMatrix.DequantizeRange).</summary>
internal static unsafe class RowDequantizer
{
    public static void Dequantize(in WeightMatrix w, int row, int col, int count, Span<float> destination)
    {
        switch (w.Type)
        {
            case DType.BF16:
                Bf16ToSingle((ushort*)w.RowPointer(row) + col, destination[..count]);
                break;
            case DType.F8E4M3:
                Fp8ToSingle(w, row, col, count, destination);
                break;
            case DType.F16:
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)w.RowPointer(row) + col, count), destination);
                break;
            default:
                w.DequantizeRange(row, col, count, destination);
                break;
        }
    }

    public static void Bf16ToSingle(ushort* source, Span<float> destination)
    {
        int n = destination.Length;
        int i = 0;
        fixed (float* d = destination)
        {
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i + 16 <= n; i += 16)
                {
                    var v = Vector256.Load(source + i);
                    var (lo, hi) = Vector256.Widen(v);
                    Vector256.ShiftLeft(lo, 16).AsSingle().Store(d + i);
                    Vector256.ShiftLeft(hi, 16).AsSingle().Store(d + i + 8);
                }
            }

            for (; i < n; i++)
            {
                d[i] = BFloat16.ToSingle(source[i]);
            }
        }
    }

    private static void Fp8ToSingle(in WeightMatrix w, int row, int col, int count, Span<float> destination)
    {
        byte* p = w.RowPointer(row) + col;
        var table = Float8E4M3.DecodeTable;
        for (int c = 0; c < count; c++)
        {
            destination[c] = table[p[c]];
        }

        // Apply one scale per block segment.
        int c0 = 0;
        while (c0 < count)
        {
            int absolute = col + c0;
            int blockEnd = Math.Min(count, ((absolute / w.BlockCols) + 1) * w.BlockCols - col);
            float scale = w.ScaleAt(row, absolute);
            TensorPrimitives.Multiply(destination[c0..blockEnd], scale, destination[c0..blockEnd]);
            c0 = blockEnd;
        }
    }
}
