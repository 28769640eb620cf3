using System.Runtime.CompilerServices;
using Fathom.Backends.Cpu.Kernels.Lanes;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Decode-sized products (up to <see cref="MaxRows"/> activation rows: one sequence, or a small batch of
/// them): weights are widened in registers straight from their stored bytes and never written back, four
/// weight rows at a time, each widened vector used for up to four activation rows at once. Memory
/// bandwidth is the limit for one row, so the loop reads each weight byte from memory once; for a batch,
/// widening once per group of four activation rows keeps the arithmetic near one FMA per weight and row.
/// </summary>
internal static unsafe class DenseDecodeKernel<TLanes>
    where TLanes : struct, IFloatLanes<TLanes>
{
    public const int MaxRows = 8;

    /// <summary>Whether the fused path handles this matrix (else the tiled path does).</summary>
    public static bool Handles(in WeightMatrix w, int rows) =>
        rows <= MaxRows && w.Type switch
        {
            DType.BF16 => w.Cols % TLanes.Count == 0,
            DType.F8E4M3 => Fp8ScaledActivations.Applies(w),
            _ => false,
        };

    /// <summary>
    /// Output rows [start, end) for 1–8 activation rows; y is [rows, W.Rows]. FP8 rows take their
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

    /// <summary>Four weight rows against the activation rows (for FP8, activations that carry the rows' block factors).</summary>
    private static void Rows4<TRow>(in WeightMatrix w, int o, float* x, int rows, int cols, float* y, int outs)
        where TRow : struct, IStoredRow
    {
        if (rows == 1)
        {
            Rows4x1<TRow>(w, o, x, cols, y + o);
            return;
        }

        for (int r = 0; r < rows; r += 4)
        {
            // Groups of four activation rows, the last one as short as it is (no arithmetic for rows that are not there).
            float* xr = x + ((long)r * cols);
            float* yr = y + ((long)r * outs) + o;
            switch (Math.Min(4, rows - r))
            {
                case 4:
                    RowsGroup<TRow, FourRows>(w, o, xr, cols, yr, outs, prefetch: r == 0);
                    break;
                case 3:
                    RowsGroup<TRow, ThreeRows>(w, o, xr, cols, yr, outs, prefetch: r == 0);
                    break;
                case 2:
                    RowsGroup<TRow, TwoRows>(w, o, xr, cols, yr, outs, prefetch: r == 0);
                    break;
                default:
                    RowsGroup<TRow, OneRow>(w, o, xr, cols, yr, outs, prefetch: r == 0);
                    break;
            }
        }
    }

    /// <summary>One activation row: the bandwidth-bound case, with the next tile prefetched.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows4x1<TRow>(in WeightMatrix w, int o, float* x, int cols, float* y)
        where TRow : struct, IStoredRow
    {
        byte* p0 = w.RowPointer(o), p1 = w.RowPointer(o + 1), p2 = w.RowPointer(o + 2), p3 = w.RowPointer(o + 3);
        // The next tile's rows, fetched one cache line per row as this tile's rows advance by one: rows
        // are often a page each, and hardware prefetchers stop at page boundaries.
        long ahead = 4L * w.RowStride * TRow.ElementBytes;
        int step = TLanes.Count, lineElements = 64 / TRow.ElementBytes;
        TLanes a0 = default, a1 = default, a2 = default, a3 = default;
        // Two vectors of columns per pass (half the loop and prefetch-test overhead per weight; each row's sum
        // takes its products in the same order). A line holds a whole number of passes for every row type and
        // lane width (64 FP8 or 32 BF16 elements against passes of 8 to 32), so the prefetch test sees every
        // line start.
        int c = 0;
        for (; c + (2 * step) <= cols; c += 2 * step)
        {
            if (c % lineElements == 0)
            {
                PrefetchLines(p0, p1, p2, p3, ahead + ((long)c * TRow.ElementBytes));
            }

            var u = TLanes.Load(x + c);
            var v = TLanes.Load(x + c + step);
            a0 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p0, c), u, a0);
            a1 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p1, c), u, a1);
            a2 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p2, c), u, a2);
            a3 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p3, c), u, a3);
            a0 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p0, c + step), v, a0);
            a1 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p1, c + step), v, a1);
            a2 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p2, c + step), v, a2);
            a3 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p3, c + step), v, a3);
        }

        if (c < cols)
        {
            // An odd last vector (cols is a whole number of vectors).
            if (c % lineElements == 0)
            {
                PrefetchLines(p0, p1, p2, p3, ahead + ((long)c * TRow.ElementBytes));
            }

            var u = TLanes.Load(x + c);
            a0 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p0, c), u, a0);
            a1 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p1, c), u, a1);
            a2 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p2, c), u, a2);
            a3 = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p3, c), u, a3);
        }

        y[0] = TLanes.Sum(a0);
        y[1] = TLanes.Sum(a1);
        y[2] = TLanes.Sum(a2);
        y[3] = TLanes.Sum(a3);
    }

    /// <summary>The cache line <paramref name="at"/> bytes into each of four weight rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchLines(byte* p0, byte* p1, byte* p2, byte* p3, long at)
    {
        TLanes.Prefetch(p0 + at);
        TLanes.Prefetch(p1 + at);
        TLanes.Prefetch(p2 + at);
        TLanes.Prefetch(p3 + at);
    }

    /// <summary>
    /// Four weight rows against <typeparamref name="TRows"/> (1–4) activation rows at x, x + cols, ..., each
    /// weight vector widened once for all of them; sums go to y, y + outs, .... Every (weight row, activation
    /// row) pair accumulates in the same order as in <see cref="Rows4x1{TRow}"/> and the tiled path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RowsGroup<TRow, TRows>(in WeightMatrix w, int o, float* x, int cols, float* y, int outs, bool prefetch)
        where TRow : struct, IStoredRow
        where TRows : struct, IQuantizedRowTile
    {
        byte* p0 = w.RowPointer(o), p1 = w.RowPointer(o + 1), p2 = w.RowPointer(o + 2), p3 = w.RowPointer(o + 3);
        float* x1 = x + cols, x2 = x1 + cols, x3 = x2 + cols;
        long ahead = 4L * w.RowStride * TRow.ElementBytes;
        int step = TLanes.Count, lineElements = 64 / TRow.ElementBytes;
        TLanes a00 = default, a01 = default, a02 = default, a03 = default;
        TLanes a10 = default, a11 = default, a12 = default, a13 = default;
        TLanes a20 = default, a21 = default, a22 = default, a23 = default;
        TLanes a30 = default, a31 = default, a32 = default, a33 = default;
        for (int c = 0; c < cols; c += step)
        {
            if (prefetch && c % lineElements == 0)
            {
                PrefetchLines(p0, p1, p2, p3, ahead + ((long)c * TRow.ElementBytes));
            }

            var v0 = TRow.Widen<TLanes>(p0, c);
            var v1 = TRow.Widen<TLanes>(p1, c);
            var v2 = TRow.Widen<TLanes>(p2, c);
            var v3 = TRow.Widen<TLanes>(p3, c);
            var u = TLanes.Load(x + c);
            a00 = TLanes.MultiplyAdd(v0, u, a00);
            a01 = TLanes.MultiplyAdd(v1, u, a01);
            a02 = TLanes.MultiplyAdd(v2, u, a02);
            a03 = TLanes.MultiplyAdd(v3, u, a03);
            if (TRows.Count > 1)
            {
                u = TLanes.Load(x1 + c);
                a10 = TLanes.MultiplyAdd(v0, u, a10);
                a11 = TLanes.MultiplyAdd(v1, u, a11);
                a12 = TLanes.MultiplyAdd(v2, u, a12);
                a13 = TLanes.MultiplyAdd(v3, u, a13);
            }

            if (TRows.Count > 2)
            {
                u = TLanes.Load(x2 + c);
                a20 = TLanes.MultiplyAdd(v0, u, a20);
                a21 = TLanes.MultiplyAdd(v1, u, a21);
                a22 = TLanes.MultiplyAdd(v2, u, a22);
                a23 = TLanes.MultiplyAdd(v3, u, a23);
            }

            if (TRows.Count > 3)
            {
                u = TLanes.Load(x3 + c);
                a30 = TLanes.MultiplyAdd(v0, u, a30);
                a31 = TLanes.MultiplyAdd(v1, u, a31);
                a32 = TLanes.MultiplyAdd(v2, u, a32);
                a33 = TLanes.MultiplyAdd(v3, u, a33);
            }
        }

        Store(y, a00, a01, a02, a03);
        if (TRows.Count > 1)
        {
            Store(y + outs, a10, a11, a12, a13);
        }

        if (TRows.Count > 2)
        {
            Store(y + (2L * outs), a20, a21, a22, a23);
        }

        if (TRows.Count > 3)
        {
            Store(y + (3L * outs), a30, a31, a32, a33);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, TLanes a0, TLanes a1, TLanes a2, TLanes a3)
    {
        y[0] = TLanes.Sum(a0);
        y[1] = TLanes.Sum(a1);
        y[2] = TLanes.Sum(a2);
        y[3] = TLanes.Sum(a3);
    }

    internal static float Row<TRow>(byte* p, float* x, int cols)
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
