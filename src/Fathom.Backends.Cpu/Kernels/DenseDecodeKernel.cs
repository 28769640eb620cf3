using System.Runtime.CompilerServices;
using Fathom.Backends.Cpu.Kernels.Lanes;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Decode-sized products (one to three activation rows): weights are widened in registers straight from
/// their stored bytes and never written back, four weight rows at a time so each activation load serves
/// four rows. Memory bandwidth is the limit here, so the loop reads each weight byte exactly once.
/// </summary>
internal static unsafe class DenseDecodeKernel<TLanes>
    where TLanes : struct, IFloatLanes<TLanes>
{
    public const int MaxRows = 3;

    /// <summary>Whether the fused path handles this matrix (else the tiled path does).</summary>
    public static bool Handles(in WeightMatrix w, int rows) =>
        rows <= MaxRows && w.Type switch
        {
            DType.BF16 => w.Cols % TLanes.Count == 0,
            DType.F8E4M3 => Fp8ScaledActivations.Applies(w),
            _ => false,
        };

    /// <summary>
    /// Output rows [start, end) for 1–3 activation rows; y is [rows, W.Rows]. FP8 rows take their
    /// activations pre-multiplied by their block factors from <paramref name="scaled"/>.
    /// </summary>
    public static void Run(in WeightMatrix w, float* x, int rows, float* y, int start, int end, Fp8ScaledActivations scaled)
    {
        int outs = w.Rows, cols = w.Cols;
        bool fp8 = w.Type == DType.F8E4M3;
        for (int o = start; o < end;)
        {
            // Four rows at a time where they also share one row of FP8 scale blocks; else one.
            if (o + 4 <= end && (!fp8 || Fp8ScaledActivations.SameScaleRow(w, o, o + 3)))
            {
                if (fp8)
                {
                    Fp8Rows4(w, o, scaled.For(w, o, x, rows), rows, cols, y, outs);
                }
                else
                {
                    Bf16Rows4(w, o, x, rows, cols, y, outs);
                }

                o += 4;
                continue;
            }

            float* xs = fp8 ? scaled.For(w, o, x, rows) : x;
            for (int r = 0; r < rows; r++)
            {
                y[((long)r * outs) + o] = fp8
                    ? Fp8Row(w.RowPointer(o), xs + ((long)r * cols), cols)
                    : Bf16Row(w, o, x + ((long)r * cols), cols);
            }

            o++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bf16Rows4(in WeightMatrix w, int o, float* x, int rows, int cols, float* y, int outs)
    {
        ushort* p0 = (ushort*)w.RowPointer(o), p1 = (ushort*)w.RowPointer(o + 1), p2 = (ushort*)w.RowPointer(o + 2), p3 = (ushort*)w.RowPointer(o + 3);
        // The next tile's rows, fetched one cache line per row per 32 columns while this tile is read:
        // rows are often a page each, and hardware prefetchers stop at page boundaries.
        long ahead = 4L * w.RowStride;
        int step = TLanes.Count;
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + ((long)r * cols);
            TLanes a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c = 0; c < cols; c += step)
            {
                if (r == 0 && (c & 31) == 0)
                {
                    TLanes.Prefetch(p0 + c + ahead);
                    TLanes.Prefetch(p1 + c + ahead);
                    TLanes.Prefetch(p2 + c + ahead);
                    TLanes.Prefetch(p3 + c + ahead);
                }

                var u = TLanes.Load(xr + c);
                a0 = TLanes.MultiplyAdd(TLanes.LoadBf16(p0 + c), u, a0);
                a1 = TLanes.MultiplyAdd(TLanes.LoadBf16(p1 + c), u, a1);
                a2 = TLanes.MultiplyAdd(TLanes.LoadBf16(p2 + c), u, a2);
                a3 = TLanes.MultiplyAdd(TLanes.LoadBf16(p3 + c), u, a3);
            }

            float* yr = y + ((long)r * outs) + o;
            yr[0] = TLanes.Sum(a0);
            yr[1] = TLanes.Sum(a1);
            yr[2] = TLanes.Sum(a2);
            yr[3] = TLanes.Sum(a3);
        }
    }

    private static float Bf16Row(in WeightMatrix w, int o, float* x, int cols)
    {
        ushort* p = (ushort*)w.RowPointer(o);
        TLanes a = default;
        for (int c = 0; c < cols; c += TLanes.Count)
        {
            a = TLanes.MultiplyAdd(TLanes.LoadBf16(p + c), TLanes.Load(x + c), a);
        }

        return TLanes.Sum(a);
    }

    /// <summary>
    /// FP8 rows, the four in one row of scale blocks: <paramref name="xs"/> already carries the blocks'
    /// factors, so the widened bytes go straight into the multiply-add.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Fp8Rows4(in WeightMatrix w, int o, float* xs, int rows, int cols, float* y, int outs)
    {
        byte* p0 = w.RowPointer(o), p1 = w.RowPointer(o + 1), p2 = w.RowPointer(o + 2), p3 = w.RowPointer(o + 3);
        int step = TLanes.Count;
        long ahead = 4L * w.RowStride;
        for (int r = 0; r < rows; r++)
        {
            float* xr = xs + ((long)r * cols);
            TLanes a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c = 0; c < cols; c += step)
            {
                if (r == 0 && (c & 63) == 0)
                {
                    TLanes.Prefetch(p0 + c + ahead);
                    TLanes.Prefetch(p1 + c + ahead);
                    TLanes.Prefetch(p2 + c + ahead);
                    TLanes.Prefetch(p3 + c + ahead);
                }

                var u = TLanes.Load(xr + c);
                a0 = TLanes.MultiplyAdd(TLanes.LoadFp8(p0 + c), u, a0);
                a1 = TLanes.MultiplyAdd(TLanes.LoadFp8(p1 + c), u, a1);
                a2 = TLanes.MultiplyAdd(TLanes.LoadFp8(p2 + c), u, a2);
                a3 = TLanes.MultiplyAdd(TLanes.LoadFp8(p3 + c), u, a3);
            }

            float* yr = y + ((long)r * outs) + o;
            yr[0] = TLanes.Sum(a0);
            yr[1] = TLanes.Sum(a1);
            yr[2] = TLanes.Sum(a2);
            yr[3] = TLanes.Sum(a3);
        }
    }

    /// <summary>One FP8 row against activations that carry its block factors.</summary>
    private static float Fp8Row(byte* p, float* xs, int cols)
    {
        TLanes a = default;
        for (int c = 0; c < cols; c += TLanes.Count)
        {
            a = TLanes.MultiplyAdd(TLanes.LoadFp8(p + c), TLanes.Load(xs + c), a);
        }

        return TLanes.Sum(a);
    }
}
