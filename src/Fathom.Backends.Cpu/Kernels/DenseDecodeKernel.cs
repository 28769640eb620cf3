using System.Runtime.CompilerServices;
using Fathom.Backends.Cpu.Kernels.Lanes;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Decode-sized products (up to <see cref="MaxRows"/> activation rows: one sequence, or a small batch of
/// them): weights are widened in registers straight from their stored bytes and never written back. One
/// activation row takes four weight rows at a time; a batch takes three, each widened vector used for up to
/// four activation rows at once. Memory bandwidth is the limit for one row, so the loop reads each weight
/// byte from memory once; for a batch, widening once per group of four activation rows keeps the
/// arithmetic near one FMA per weight and row.
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
            Run<Fp8RawRow>(w, x, rows, y, start, end, scaled, scaled);
        }
        else
        {
            Run<Bf16Row>(w, x, rows, y, start, end, null, scaled);
        }
    }

    private static void Run<TRow>(in WeightMatrix w, float* x, int rows, float* y, int start, int end, Fp8ScaledActivations? scaled, Fp8ScaledActivations copies)
        where TRow : struct, IStoredRow
    {
        int cols = w.Cols;
        if (WideTiles && rows == MaxRows)
        {
            Batch8<TRow>(w, x, y, start, end, scaled, copies);
            return;
        }

        if (rows > 1)
        {
            Batch<TRow>(w, x, rows, y, start, end, scaled);
            return;
        }

        if (WideTiles && TRow.ElementBytes == 2)
        {
            // BF16 with 512-bit lanes: one row after the other, each a single stream prefetched a kilobyte ahead
            // (into the next row at its end). A single-thread harness over 256 MB: 30.2 GB/s against 26.1 for four
            // interleaved rows. Each row adds its products in the same order as Rows4x1. Not for FP8 (half the
            // bytes per vector: one row's chain of dependent FMAs caps it, 35 against 46 tok/s) nor for 256-bit
            // lanes (twice the FMAs per byte in that chain; not measured).
            for (int o = start; o < end; o++)
            {
                y[o] = StreamRow<TRow>(w.RowPointer(o), x, cols);
            }

            return;
        }

        for (int o = start; o < end;)
        {
            // Four rows at a time where they also share one row of FP8 scale blocks; else one.
            if (o + 4 <= end && (scaled is null || Fp8ScaledActivations.SameScaleRow(w, o, o + 3)))
            {
                Rows4x1<TRow>(w, o, scaled is null ? x : scaled.For(w, o, x, rows), cols, y + o);
                o += 4;
                continue;
            }

            float* xs = scaled is null ? x : scaled.For(w, o, x, rows);
            y[o] = Row<TRow>(w.RowPointer(o), xs, cols);
            o++;
        }
    }

    /// <summary>
    /// 2–8 activation rows: tiles of three weight rows (fewer at the end of the range or of an FP8 scale
    /// block), each widened once per group of four activation rows. Twelve accumulators, three widened
    /// vectors and one activation vector fill the sixteen AVX2 registers without spilling (four weight rows
    /// against four activation rows keep four accumulators on the stack).
    /// </summary>
    private static void Batch<TRow>(in WeightMatrix w, float* x, int rows, float* y, int start, int end, Fp8ScaledActivations? scaled)
        where TRow : struct, IStoredRow
    {
        int outs = w.Rows, cols = w.Cols;
        for (int o = start; o < end;)
        {
            int n = Fp8ScaledActivations.TileRows(w, scaled is not null, o, end, 3);

            float* xs = scaled is null ? x : scaled.For(w, o, x, rows);
            // The next tile's rows come in one cache line per row as this tile's first group advances.
            long ahead = o + n + 3 <= end ? (long)n * w.RowStride * TRow.ElementBytes : -1;
            switch (n)
            {
                case 3:
                    Tile<TRow, ThreeRows>(w, o, xs, rows, cols, y + o, outs, ahead);
                    break;
                case 2:
                    Tile<TRow, TwoRows>(w, o, xs, rows, cols, y + o, outs, ahead);
                    break;
                default:
                    Tile<TRow, OneRow>(w, o, xs, rows, cols, y + o, outs, ahead);
                    break;
            }

            o += n;
        }
    }

    /// <summary>
    /// Eight activation rows with 512-bit lanes: tiles of three weight rows through <see cref="Group8{TRow, TWeights}"/>
    /// on the activations interleaved by <see cref="Fp8ScaledActivations.Interleaved8{TLanes}"/> (each column step's
    /// eight vectors one after the other: a single stream instead of eight 8 KB apart, which the eight rows of a
    /// 2048-wide matrix, 64 KB, take from L2 at every step). Same sums as <see cref="Batch{TRow}"/>.
    /// </summary>
    private static void Batch8<TRow>(in WeightMatrix w, float* x, float* y, int start, int end, Fp8ScaledActivations? scaled, Fp8ScaledActivations copies)
        where TRow : struct, IStoredRow
    {
        int outs = w.Rows, cols = w.Cols;
        for (int o = start; o < end;)
        {
            int n = Fp8ScaledActivations.TileRows(w, scaled is not null, o, end, 3);
            float* xi = copies.Interleaved8<TLanes>(w, o, x, scaled is not null);
            long ahead = o + n + 3 <= end ? (long)n * w.RowStride * TRow.ElementBytes : -1;
            byte* p0 = w.RowPointer(o);
            long step = 8L * TLanes.Count, row = TLanes.Count;
            switch (n)
            {
                case 3:
                    Group8<TRow, ThreeRows>(p0, w.RowPointer(o + 1), w.RowPointer(o + 2), xi, cols, step, row, y + o, outs, ahead);
                    break;
                case 2:
                    Group8<TRow, TwoRows>(p0, w.RowPointer(o + 1), p0, xi, cols, step, row, y + o, outs, ahead);
                    break;
                default:
                    Group8<TRow, OneRow>(p0, p0, p0, xi, cols, step, row, y + o, outs, ahead);
                    break;
            }

            o += n;
        }
    }

    /// <summary><typeparamref name="TWeights"/> (1–3) weight rows from o against all activation rows, in groups of four.</summary>
    internal static void Tile<TRow, TWeights>(in WeightMatrix w, int o, float* x, int rows, int cols, float* y, int outs, long ahead)
        where TRow : struct, IStoredRow
        where TWeights : struct, IQuantizedRowTile
    {
        byte* p0 = w.RowPointer(o);
        byte* p1 = TWeights.Count > 1 ? w.RowPointer(o + 1) : p0;
        byte* p2 = TWeights.Count > 2 ? w.RowPointer(o + 2) : p0;
        int r = 0;
        if (WideTiles && rows >= 8)
        {
            // 512-bit lanes come with 32 registers: eight activation rows in one pass (24 accumulators), so each
            // weight vector is widened once for all of them.
            Group8<TRow, TWeights>(p0, p1, p2, x, cols, TLanes.Count, cols, y, outs, ahead);
            r = 8;
        }

        for (; r < rows; r += 4)
        {
            float* xr = x + ((long)r * cols);
            float* yr = y + ((long)r * outs);
            long prefetch = r == 0 ? ahead : -1;
            switch (Math.Min(4, rows - r))
            {
                case 4:
                    Group<TRow, TWeights, FourRows>(p0, p1, p2, xr, cols, yr, outs, prefetch);
                    break;
                case 3:
                    Group<TRow, TWeights, ThreeRows>(p0, p1, p2, xr, cols, yr, outs, prefetch);
                    break;
                case 2:
                    Group<TRow, TWeights, TwoRows>(p0, p1, p2, xr, cols, yr, outs, prefetch);
                    break;
                default:
                    Group<TRow, TWeights, OneRow>(p0, p1, p2, xr, cols, yr, outs, prefetch);
                    break;
            }
        }
    }

    /// <summary>
    /// <typeparamref name="TWeights"/> (1–3) weight rows at p0, p1, p2 against <typeparamref name="TRows"/> (1–4)
    /// activation rows at x, x + cols, ...; sums to y[i * outs + j] for activation row i and weight row j. Each
    /// pair accumulates in the same order as <see cref="Rows4x1{TRow}"/>. With <paramref name="ahead"/> ≥ 0 the
    /// lines that many bytes past each row are prefetched.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Group<TRow, TWeights, TRows>(byte* p0, byte* p1, byte* p2, float* x, int cols, float* y, int outs, long ahead)
        where TRow : struct, IStoredRow
        where TWeights : struct, IQuantizedRowTile
        where TRows : struct, IQuantizedRowTile
    {
        float* x1 = x + cols, x2 = x1 + cols, x3 = x2 + cols;
        int step = TLanes.Count;
        TLanes a00 = default, a01 = default, a02 = default;
        TLanes a10 = default, a11 = default, a12 = default;
        TLanes a20 = default, a21 = default, a22 = default;
        TLanes a30 = default, a31 = default, a32 = default;
        for (int c = 0; c < cols; c += step)
        {
            WidenTile<TRow, TWeights>(p0, p1, p2, c, ahead, out var v0, out var v1, out var v2);
            Accumulate<TWeights>(v0, v1, v2, TLanes.Load(x + c), ref a00, ref a01, ref a02);
            if (TRows.Count > 1)
            {
                Accumulate<TWeights>(v0, v1, v2, TLanes.Load(x1 + c), ref a10, ref a11, ref a12);
            }

            if (TRows.Count > 2)
            {
                Accumulate<TWeights>(v0, v1, v2, TLanes.Load(x2 + c), ref a20, ref a21, ref a22);
            }

            if (TRows.Count > 3)
            {
                Accumulate<TWeights>(v0, v1, v2, TLanes.Load(x3 + c), ref a30, ref a31, ref a32);
            }
        }

        Store<TWeights>(y, a00, a01, a02);
        if (TRows.Count > 1)
        {
            Store<TWeights>(y + outs, a10, a11, a12);
        }

        if (TRows.Count > 2)
        {
            Store<TWeights>(y + (2L * outs), a20, a21, a22);
        }

        if (TRows.Count > 3)
        {
            Store<TWeights>(y + (3L * outs), a30, a31, a32);
        }
    }

    /// <summary>Whether the lanes are 512-bit, which comes with 32 vector registers (AVX-512) instead of 16.</summary>
    internal static bool WideTiles => TLanes.Count >= 16;

    /// <summary>
    /// <see cref="Group{TRow, TWeights, TRows}"/> for eight activation rows: 24 accumulators, three widened weight
    /// vectors and one activation vector in 32 registers. Each pair accumulates in the same order. Activation
    /// row r's vector at column step k is at x + k · <paramref name="stepFloats"/> + r · <paramref name="rowFloats"/>:
    /// rows as they are (one lane count and cols), or interleaved (eight lane counts and one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Group8<TRow, TWeights>(byte* p0, byte* p1, byte* p2, float* x, int cols, long stepFloats, long rowFloats, float* y, int outs, long ahead)
        where TRow : struct, IStoredRow
        where TWeights : struct, IQuantizedRowTile
    {
        int step = TLanes.Count;
        TLanes a00 = default, a01 = default, a02 = default, a10 = default, a11 = default, a12 = default;
        TLanes a20 = default, a21 = default, a22 = default, a30 = default, a31 = default, a32 = default;
        TLanes a40 = default, a41 = default, a42 = default, a50 = default, a51 = default, a52 = default;
        TLanes a60 = default, a61 = default, a62 = default, a70 = default, a71 = default, a72 = default;
        float* xc = x;
        for (int c = 0; c < cols; c += step, xc += stepFloats)
        {
            WidenTile<TRow, TWeights>(p0, p1, p2, c, ahead, out var v0, out var v1, out var v2);
            Accumulate<TWeights>(v0, v1, v2, TLanes.Load(xc), ref a00, ref a01, ref a02);
            Accumulate<TWeights>(v0, v1, v2, TLanes.Load(xc + rowFloats), ref a10, ref a11, ref a12);
            Accumulate<TWeights>(v0, v1, v2, TLanes.Load(xc + (2 * rowFloats)), ref a20, ref a21, ref a22);
            Accumulate<TWeights>(v0, v1, v2, TLanes.Load(xc + (3 * rowFloats)), ref a30, ref a31, ref a32);
            Accumulate<TWeights>(v0, v1, v2, TLanes.Load(xc + (4 * rowFloats)), ref a40, ref a41, ref a42);
            Accumulate<TWeights>(v0, v1, v2, TLanes.Load(xc + (5 * rowFloats)), ref a50, ref a51, ref a52);
            Accumulate<TWeights>(v0, v1, v2, TLanes.Load(xc + (6 * rowFloats)), ref a60, ref a61, ref a62);
            Accumulate<TWeights>(v0, v1, v2, TLanes.Load(xc + (7 * rowFloats)), ref a70, ref a71, ref a72);
        }

        Store<TWeights>(y, a00, a01, a02);
        Store<TWeights>(y + outs, a10, a11, a12);
        Store<TWeights>(y + (2L * outs), a20, a21, a22);
        Store<TWeights>(y + (3L * outs), a30, a31, a32);
        Store<TWeights>(y + (4L * outs), a40, a41, a42);
        Store<TWeights>(y + (5L * outs), a50, a51, a52);
        Store<TWeights>(y + (6L * outs), a60, a61, a62);
        Store<TWeights>(y + (7L * outs), a70, a71, a72);
    }

    /// <summary>
    /// The column-c vectors of a tile's <typeparamref name="TWeights"/> (1–3) weight rows, widened (default past
    /// the tile); at each cache line's start with <paramref name="ahead"/> ≥ 0, first the line that many bytes
    /// further on in each row is prefetched.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WidenTile<TRow, TWeights>(byte* p0, byte* p1, byte* p2, int c, long ahead, out TLanes v0, out TLanes v1, out TLanes v2)
        where TRow : struct, IStoredRow
        where TWeights : struct, IQuantizedRowTile
    {
        if (ahead >= 0 && c % (64 / TRow.ElementBytes) == 0)
        {
            long at = ahead + ((long)c * TRow.ElementBytes);
            TLanes.Prefetch(p0 + at);
            if (TWeights.Count > 1)
            {
                TLanes.Prefetch(p1 + at);
            }

            if (TWeights.Count > 2)
            {
                TLanes.Prefetch(p2 + at);
            }
        }

        v0 = TRow.Widen<TLanes>(p0, c);
        v1 = TWeights.Count > 1 ? TRow.Widen<TLanes>(p1, c) : default;
        v2 = TWeights.Count > 2 ? TRow.Widen<TLanes>(p2, c) : default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<TWeights>(TLanes v0, TLanes v1, TLanes v2, TLanes u, ref TLanes a0, ref TLanes a1, ref TLanes a2)
        where TWeights : struct, IQuantizedRowTile
    {
        a0 = TLanes.MultiplyAdd(v0, u, a0);
        if (TWeights.Count > 1)
        {
            a1 = TLanes.MultiplyAdd(v1, u, a1);
        }

        if (TWeights.Count > 2)
        {
            a2 = TLanes.MultiplyAdd(v2, u, a2);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TWeights>(float* y, TLanes a0, TLanes a1, TLanes a2)
        where TWeights : struct, IQuantizedRowTile
    {
        y[0] = TLanes.Sum(a0);
        if (TWeights.Count > 1)
        {
            y[1] = TLanes.Sum(a1);
        }

        if (TWeights.Count > 2)
        {
            y[2] = TLanes.Sum(a2);
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

    /// <summary><see cref="Row{TRow}"/> with the line <see cref="StreamAhead"/> bytes on prefetched at each line's start.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float StreamRow<TRow>(byte* p, float* x, int cols)
        where TRow : struct, IStoredRow
    {
        int lineElements = 64 / TRow.ElementBytes;
        TLanes a = default;
        for (int c = 0; c < cols; c += TLanes.Count)
        {
            if (c % lineElements == 0)
            {
                TLanes.Prefetch(p + StreamAhead + ((long)c * TRow.ElementBytes));
            }

            a = TLanes.MultiplyAdd(TRow.Widen<TLanes>(p, c), TLanes.Load(x + c), a);
        }

        return TLanes.Sum(a);
    }

    /// <summary>How far ahead <see cref="StreamRow{TRow}"/> prefetches: 16 lines.</summary>
    private const int StreamAhead = 1024;

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
