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
        if (w.Type == DType.F8E4M3)
        {
            Run<Fp8RawRow>(w, x, rows, y, start, end, scaled);
        }
        else
        {
            Run<Bf16Row>(w, x, rows, y, start, end, null);
        }
    }

    private static void Run<TRow>(in WeightMatrix w, float* x, int rows, float* y, int start, int end, Fp8ScaledActivations? scaled)
        where TRow : struct, IStoredRow
    {
        int outs = w.Rows, cols = w.Cols;
        for (int o = start; o < end;)
        {
            // Four rows at a time where they also share one row of FP8 scale blocks; else one.
            if (o + 4 <= end && (scaled is null || Fp8ScaledActivations.SameScaleRow(w, o, o + 3)))
            {
                Rows4<TRow>(w, o, scaled is null ? x : scaled.For(w, o, x, rows), rows, cols, y, outs);
                o += 4;
                continue;
            }

            float* xs = scaled is null ? x : scaled.For(w, o, x, rows);
            for (int r = 0; r < rows; r++)
            {
                y[((long)r * outs) + o] = Row<TRow>(w.RowPointer(o), xs + ((long)r * cols), cols);
            }

            o++;
        }
    }

    /// <summary>Four weight rows against 1–3 activation rows (for FP8, activations that carry the rows' block factors).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows4<TRow>(in WeightMatrix w, int o, float* x, int rows, int cols, float* y, int outs)
        where TRow : struct, IStoredRow
    {
        byte* p0 = w.RowPointer(o), p1 = w.RowPointer(o + 1), p2 = w.RowPointer(o + 2), p3 = w.RowPointer(o + 3);
        // The next tile's rows, fetched one cache line per row as this tile's rows advance by one: rows
        // are often a page each, and hardware prefetchers stop at page boundaries.
        long ahead = 4L * w.RowStride * TRow.ElementBytes;
        int step = TLanes.Count, lineElements = 64 / TRow.ElementBytes;
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + ((long)r * cols);
            TLanes a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c = 0; c < cols; c += step)
            {
                if (r == 0 && c % lineElements == 0)
                {
                    long at = ahead + ((long)c * TRow.ElementBytes);
                    TLanes.Prefetch(p0 + at);
                    TLanes.Prefetch(p1 + at);
                    TLanes.Prefetch(p2 + at);
                    TLanes.Prefetch(p3 + at);
                }

                var u = TLanes.Load(xr + c);
                a0 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p0, c), u, a0);
                a1 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p1, c), u, a1);
                a2 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p2, c), u, a2);
                a3 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p3, c), u, a3);
            }

            float* yr = y + ((long)r * outs) + o;
            yr[0] = TLanes.Sum(a0);
            yr[1] = TLanes.Sum(a1);
            yr[2] = TLanes.Sum(a2);
            yr[3] = TLanes.Sum(a3);
        }
    }

    private static float Row<TRow>(byte* p, float* x, int cols)
        where TRow : struct, IStoredRow
    {
        TLanes a = default;
        for (int c = 0; c < cols; c += TLanes.Count)
        {
            a = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p, c), TLanes.Load(x + c), a);
        }

        return TLanes.Sum(a);
    }
}
