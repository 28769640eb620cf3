using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// INT8 weights with a float scale per block of columns (per output channel for SGLang's w8a8_int8, or
/// 128-column blocks): y = Σ_blocks scale · Σ q·x, activations kept in float32. One to four activation
/// rows (decode) widen the int8 bytes in registers, each byte read once; larger batches widen each weight
/// row once into float32 and take its dot product with every activation row.
/// </summary>
internal sealed unsafe class Int8MatMulKernel(int workers) : IntegerRowKernel<Int8MatMulKernel>(workers), IIntegerRowFormat
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float FusedRow(in WeightMatrix w, int o, float* x, int cols)
    {
        sbyte* p = (sbyte*)w.RowPointer(o);
        var scales = w.BlockScales!;
        int blockCols = w.BlockCols;
        var total = Vector512<float>.Zero;
        for (int c0 = 0; c0 < cols; c0 += blockCols)
        {
            int blockEnd = Math.Min(cols, c0 + blockCols);
            Vector512<float> a0 = default, a1 = default;
            int c = c0;
            for (; c + 32 <= blockEnd; c += 32)
            {
                a0 = Vector512.FusedMultiplyAdd(Widen(p + c), Vector512.Load(x + c), a0);
                a1 = Vector512.FusedMultiplyAdd(Widen(p + c + 16), Vector512.Load(x + c + 16), a1);
            }

            for (; c < blockEnd; c += 16)
            {
                a0 = Vector512.FusedMultiplyAdd(Widen(p + c), Vector512.Load(x + c), a0);
            }

            total = Vector512.FusedMultiplyAdd(a0 + a1, Vector512.Create(scales[w.ScaleIndex(o, c0)]), total);
        }

        return Vector512.Sum(total);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen(sbyte* p) =>
        Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(p)));

    /// <summary>One weight row to float32 (q · scale), vectorised where the hardware allows.</summary>
    public static void Dequantize(in WeightMatrix w, int o, float[] destination)
    {
        sbyte* p = (sbyte*)w.RowPointer(o);
        int cols = w.Cols, blockCols = w.BlockCols;
        var scales = w.BlockScales!;
        fixed (float* d = destination)
        {
            for (int c0 = 0; c0 < cols; c0 += blockCols)
            {
                int blockEnd = Math.Min(cols, c0 + blockCols);
                float scale = scales[w.ScaleIndex(o, c0)];
                int c = c0;
                if (Avx512F.IsSupported)
                {
                    var factor = Vector512.Create(scale);
                    for (; c + 16 <= blockEnd; c += 16)
                    {
                        (Widen(p + c) * factor).Store(d + c);
                    }
                }

                for (; c < blockEnd; c++)
                {
                    d[c] = p[c] * scale;
                }
            }
        }
    }
}
