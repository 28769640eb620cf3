using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// INT4 weights (<see cref="DType.U4"/>: packed nibbles with a scale and zero point per group of columns,
/// as AWQ checkpoints are repacked at load): y = Σ_groups scale · Σ (q − zero)·x, activations in float32.
/// One to four activation rows (decode) unpack 16 nibbles at a time in registers, each byte read once;
/// larger batches unpack each weight row once into float32 and take its dot product with every
/// activation row.
/// </summary>
internal sealed unsafe class Int4MatMulKernel(int workers) : IntegerRowKernel<Int4MatMulKernel>(workers), IIntegerRowFormat
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float FusedRow(in WeightMatrix w, int o, float* x, int cols)
    {
        byte* p = w.RowPointer(o);
        var scales = w.BlockScales!;
        var zeros = w.ZeroPoints!;
        int group = w.BlockCols;
        var total = Vector512<float>.Zero;
        for (int c0 = 0; c0 < cols; c0 += group)
        {
            int groupEnd = Math.Min(cols, c0 + group);
            int index = w.ScaleIndex(o, c0);
            var zero = Vector512.Create(zeros[index]);
            Vector512<float> a0 = default, a1 = default;
            int c = c0;
            for (; c + 32 <= groupEnd; c += 32)
            {
                a0 = Vector512.FusedMultiplyAdd(Unpack16(p + (c >> 1)) - zero, Vector512.Load(x + c), a0);
                a1 = Vector512.FusedMultiplyAdd(Unpack16(p + (c >> 1) + 8) - zero, Vector512.Load(x + c + 16), a1);
            }

            for (; c < groupEnd; c += 16)
            {
                a0 = Vector512.FusedMultiplyAdd(Unpack16(p + (c >> 1)) - zero, Vector512.Load(x + c), a0);
            }

            total = Vector512.FusedMultiplyAdd(a0 + a1, Vector512.Create(scales[index]), total);
        }

        return Vector512.Sum(total);
    }

    /// <summary>Sixteen consecutive codes from eight bytes (low nibble first) as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Unpack16(byte* p)
    {
        var bytes = Vector128.CreateScalar(*(ulong*)p).AsByte();
        var mask = Vector128.Create((byte)0x0F);
        var low = bytes & mask;
        var high = Vector128.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & mask;
        var codes = Sse2.UnpackLow(low, high);
        return Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(codes));
    }

    /// <summary>One weight row to float32 ((q − zero) · scale), vectorised where the hardware allows.</summary>
    public static void Dequantize(in WeightMatrix w, int o, float[] destination)
    {
        byte* p = w.RowPointer(o);
        int cols = w.Cols, group = w.BlockCols;
        var scales = w.BlockScales!;
        var zeros = w.ZeroPoints!;
        fixed (float* d = destination)
        {
            for (int c0 = 0; c0 < cols; c0 += group)
            {
                int groupEnd = Math.Min(cols, c0 + group);
                int index = w.ScaleIndex(o, c0);
                float scale = scales[index], zero = zeros[index];
                int c = c0;
                if (Avx512F.IsSupported && c0 % 2 == 0)
                {
                    var s = Vector512.Create(scale);
                    var z = Vector512.Create(zero);
                    for (; c + 16 <= groupEnd; c += 16)
                    {
                        ((Unpack16(p + (c >> 1)) - z) * s).Store(d + c);
                    }
                }

                for (; c < groupEnd; c++)
                {
                    d[c] = (Int4Groups.Code(p, c) - zero) * scale;
                }
            }
        }
    }
}
