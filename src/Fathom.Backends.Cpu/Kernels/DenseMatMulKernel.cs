using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Fathom.Backends.Cpu.Kernels.Lanes;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Products with float weights as stored (F32, BF16, F16, FP8 e4m3 with block scales) for more activation
/// rows than the decode path takes. A worker takes a few weight rows at a time and multiplies them with the
/// activation rows four at a time in a register-blocked tile of vector FMAs, so a weight is read from
/// memory once per block of up to <see cref="TokenBlock"/> activation rows. BF16 rows, and FP8 rows whose
/// activations carry the block factors, are widened in registers as the tile reads them (the decode path's
/// arithmetic), three rows per tile (six with 512-bit lanes); other formats are widened once into float32 scratch, four rows per
/// tile. The columns are walked in chunks of <see cref="ColumnChunk"/>: a chunk of the weight rows stays in
/// L1 while every group of four activation rows passes over it, each group's vector accumulators parked in
/// a small buffer between chunks. Each lane still adds its products in column order, so every (weight row, activation row) sum
/// rounds exactly as in the decode path, whatever the batch.
/// </summary>
internal sealed unsafe class DenseMatMulKernel<TLanes>(int workers) : IMatMulKernel
    where TLanes : struct, IFloatLanes<TLanes>
{
    /// <summary>Activation rows that share one widening of a weight tile (prefill); keeps their slice of x in L2.</summary>
    private const int TokenBlock = 64;

    /// <summary>Weight rows per tile of the float32-scratch path (4x4 FMA tiles).</summary>
    private const int TileRows = 4;

    /// <summary>Weight rows per tile of the path that widens in registers (3x4 FMA tiles).</summary>
    private const int RegisterTileRows = 3;

    /// <summary>Columns per chunk: a tile's rows of it (6-8 KB as BF16) stay in L1 while the activations stream past.</summary>
    private const int ColumnChunk = 1024;

    /// <summary>
    /// Weight rows per tile that widens in registers with 512-bit lanes (6x4 FMA tiles): 32 registers hold 24
    /// accumulators, four activation vectors and a widened weight vector, and each activation vector (streamed
    /// from L2 for every tile) feeds six FMAs instead of three.
    /// </summary>
    private const int WideRegisterTileRows = 6;

    /// <summary>Floats of parked accumulators: 24 vectors per group of four activation rows of a token block.</summary>
    private static readonly int ParkedFloats = TokenBlock / 4 * 24 * TLanes.Count;

    private static bool WideTiles => DenseDecodeKernel<TLanes>.WideTiles;

    private readonly float[][] _scratch = new float[workers][];

    private readonly Fp8ScaledActivations[] _scaled = [.. Enumerable.Range(0, workers).Select(_ => new Fp8ScaledActivations())];

    public void Prepare(in WeightMatrix w, float* x, int rows)
    {
    }

    public void Run(in WeightMatrix w, float* x, int rows, float* y, int start, int end, int worker)
    {
        var scaled = _scaled[worker];
        scaled.Reset();
        if (DenseDecodeKernel<TLanes>.Handles(w, rows))
        {
            DenseDecodeKernel<TLanes>.Run(w, x, rows, y, start, end, scaled);
            return;
        }

        int cols = w.Cols, outs = w.Rows;
        // FP8 rows that the decode path also takes are read without their scales, and multiplied with
        // activations that carry them (as the decode path does), so a row rounds the same in every batch.
        bool raw = Fp8ScaledActivations.Applies(w);
        bool inRegisters = raw || (w.Type == DType.BF16 && cols % TLanes.Count == 0);
        // Rows of the widened tile are a cache line apart from a power-of-two stride: widths like 2048 would
        // otherwise put the four rows (and the stores that fill them) on the same L1 sets.
        int stride = cols + 16;
        int tileFloats = inRegisters || w.Type == DType.F32 ? 0 : TileRows * stride;
        var scratch = _scratch[worker] = PinnedBuffer.Ensure(_scratch[worker], tileFloats + ParkedFloats + 32);
        fixed (float* pinned = scratch)
        {
            float* tile = (float*)(((nint)pinned + 63) & ~(nint)63);
            float* parked = tile + tileFloats;
            for (int t0 = 0; t0 < rows; t0 += TokenBlock)
            {
                int tokens = Math.Min(TokenBlock, rows - t0);
                float* xb = x + ((long)t0 * cols), yb = y + ((long)t0 * outs);
                if (raw)
                {
                    InRegisters<Fp8RawRow>(w, xb, tokens, yb, start, end, parked, scaled);
                }
                else if (inRegisters)
                {
                    InRegisters<Bf16Row>(w, xb, tokens, yb, start, end, parked, null);
                }
                else
                {
                    Widened(w, xb, tokens, yb, start, end, tile, stride, parked);
                }
            }
        }
    }

    /// <summary>
    /// Tiles whose weight rows are widened in registers as they are read (BF16; FP8 with factors in the
    /// activations): three weight rows against four activation rows, so the twelve accumulators, three
    /// widened vectors and one activation vector fit sixteen AVX2 registers (a 4x4 tile spills four
    /// accumulators on every column step). Rows left at a range's or an FP8 scale block's end, and tokens
    /// past the last group of four, go through the decode kernel's narrower groups (same per-pair order).
    /// </summary>
    private static void InRegisters<TRow>(in WeightMatrix w, float* xb, int tokens, float* yb, int start, int end, float* parked, Fp8ScaledActivations? scaled)
        where TRow : struct, IStoredRow
    {
        int cols = w.Cols, outs = w.Rows;
        for (int o = start; o < end;)
        {
            int n = Fp8ScaledActivations.TileRows(w, scaled is not null, o, end, WideTiles ? WideRegisterTileRows : RegisterTileRows);

            float* xt = scaled is null ? xb : scaled.For(w, o, xb, tokens);
            if (n == WideRegisterTileRows)
            {
                PrefetchNextTile(w, o + n, Math.Min(o + (2 * n), end));
                Tiles6<TRow>(w, o, xt, tokens, cols, yb + o, outs, parked);
                int whole = tokens / 4 * 4;
                if (whole < tokens)
                {
                    float* xr = xt + ((long)whole * cols);
                    float* yr = yb + ((long)whole * outs) + o;
                    DenseDecodeKernel<TLanes>.Tile<TRow, ThreeRows>(w, o, xr, tokens - whole, cols, yr, outs, -1);
                    DenseDecodeKernel<TLanes>.Tile<TRow, ThreeRows>(w, o + 3, xr, tokens - whole, cols, yr + 3, outs, -1);
                }

                o += n;
                continue;
            }

            n = Math.Min(n, RegisterTileRows);
            if (n < RegisterTileRows)
            {
                if (n == 2)
                {
                    DenseDecodeKernel<TLanes>.Tile<TRow, TwoRows>(w, o, xt, tokens, cols, yb + o, outs, -1);
                }
                else
                {
                    DenseDecodeKernel<TLanes>.Tile<TRow, OneRow>(w, o, xt, tokens, cols, yb + o, outs, -1);
                }

                o += n;
                continue;
            }

            PrefetchNextTile(w, o + RegisterTileRows, Math.Min(o + (2 * RegisterTileRows), end));
            Tiles3<TRow>(w.RowPointer(o), w.RowPointer(o + 1), w.RowPointer(o + 2), xt, tokens, cols, yb + o, outs, parked);
            int done = tokens / 4 * 4;
            if (done < tokens)
            {
                DenseDecodeKernel<TLanes>.Tile<TRow, ThreeRows>(w, o, xt + ((long)done * cols), tokens - done, cols, yb + ((long)done * outs) + o, outs, -1);
            }

            o += RegisterTileRows;
        }
    }

    /// <summary>
    /// Three weight rows against every whole group of four of the <paramref name="tokens"/> activation rows,
    /// chunk by chunk over the columns (a whole number of vectors), each group's twelve accumulators parked
    /// between chunks.
    /// </summary>
    private static void Tiles3<TRow>(byte* p0, byte* p1, byte* p2, float* x, int tokens, int cols, float* y, int outs, float* parked)
        where TRow : struct, IStoredRow
    {
        int groups = tokens / 4, n = TLanes.Count;
        for (int k0 = 0; k0 < cols; k0 += ColumnChunk)
        {
            int k1 = Math.Min(k0 + ColumnChunk, cols);
            for (int g = 0; g < groups; g++)
            {
                float* xr = x + ((long)g * 4 * cols);
                Chunk3x4<TRow>(p0, p1, p2, xr, xr + cols, xr + (2 * cols), xr + (3 * cols), k0, k1, parked + (g * 12 * n));
            }
        }

        for (int g = 0; g < groups; g++)
        {
            float* acc = parked + (g * 12 * n);
            for (int r = 0; r < 4; r++)
            {
                float* yr = y + ((long)((g * 4) + r) * outs);
                yr[0] = TLanes.Sum(TLanes.Load(acc + (((r * 3) + 0) * n)));
                yr[1] = TLanes.Sum(TLanes.Load(acc + (((r * 3) + 1) * n)));
                yr[2] = TLanes.Sum(TLanes.Load(acc + (((r * 3) + 2) * n)));
            }
        }
    }

    /// <summary>
    /// Six weight rows from <paramref name="o"/> against every whole group of four of the <paramref name="tokens"/>
    /// activation rows, chunk by chunk over the columns (a whole number of vectors), each group's 24
    /// accumulators parked between chunks.
    /// </summary>
    private static void Tiles6<TRow>(in WeightMatrix w, int o, float* x, int tokens, int cols, float* y, int outs, float* parked)
        where TRow : struct, IStoredRow
    {
        int groups = tokens / 4, n = TLanes.Count;
        byte* p0 = w.RowPointer(o);
        long stride = w.RowPointer(o + 1) - p0;
        for (int k0 = 0; k0 < cols; k0 += ColumnChunk)
        {
            int k1 = Math.Min(k0 + ColumnChunk, cols);
            for (int g = 0; g < groups; g++)
            {
                float* xr = x + ((long)g * 4 * cols);
                Chunk6x4<TRow>(p0, stride, xr, cols, k0, k1, parked + (g * 24 * n));
            }
        }

        for (int g = 0; g < groups; g++)
        {
            float* acc = parked + (g * 24 * n);
            for (int r = 0; r < 4; r++)
            {
                float* yr = y + ((long)((g * 4) + r) * outs);
                for (int j = 0; j < WideRegisterTileRows; j++)
                {
                    yr[j] = TLanes.Sum(TLanes.Load(acc + (((r * WideRegisterTileRows) + j) * n)));
                }
            }
        }
    }

    /// <summary>
    /// Columns [k0, k1) of the 24 dot products of six weight rows (at p0, p0 + stride, ...) with four activation
    /// rows (at x, x + cols, ...), added to the accumulators parked at <paramref name="acc"/> ([activation
    /// row][weight row]; they start from zero at column 0). Each pair adds its products in column order, as
    /// every other tile does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Chunk6x4<TRow>(byte* p0, long stride, float* x, int cols, int k0, int k1, float* acc)
        where TRow : struct, IStoredRow
    {
        int n = TLanes.Count;
        byte* p1 = p0 + stride, p2 = p1 + stride, p3 = p2 + stride, p4 = p3 + stride, p5 = p4 + stride;
        float* x1 = x + cols, x2 = x1 + cols, x3 = x2 + cols;
        TLanes a00 = default, a01 = default, a02 = default, a03 = default, a04 = default, a05 = default;
        TLanes a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
        TLanes a20 = default, a21 = default, a22 = default, a23 = default, a24 = default, a25 = default;
        TLanes a30 = default, a31 = default, a32 = default, a33 = default, a34 = default, a35 = default;
        if (k0 > 0)
        {
            a00 = TLanes.Load(acc);
            a01 = TLanes.Load(acc + n);
            a02 = TLanes.Load(acc + (2 * n));
            a03 = TLanes.Load(acc + (3 * n));
            a04 = TLanes.Load(acc + (4 * n));
            a05 = TLanes.Load(acc + (5 * n));
            a10 = TLanes.Load(acc + (6 * n));
            a11 = TLanes.Load(acc + (7 * n));
            a12 = TLanes.Load(acc + (8 * n));
            a13 = TLanes.Load(acc + (9 * n));
            a14 = TLanes.Load(acc + (10 * n));
            a15 = TLanes.Load(acc + (11 * n));
            a20 = TLanes.Load(acc + (12 * n));
            a21 = TLanes.Load(acc + (13 * n));
            a22 = TLanes.Load(acc + (14 * n));
            a23 = TLanes.Load(acc + (15 * n));
            a24 = TLanes.Load(acc + (16 * n));
            a25 = TLanes.Load(acc + (17 * n));
            a30 = TLanes.Load(acc + (18 * n));
            a31 = TLanes.Load(acc + (19 * n));
            a32 = TLanes.Load(acc + (20 * n));
            a33 = TLanes.Load(acc + (21 * n));
            a34 = TLanes.Load(acc + (22 * n));
            a35 = TLanes.Load(acc + (23 * n));
        }

        for (int c = k0; c < k1; c += n)
        {
            var u0 = TLanes.Load(x + c);
            var u1 = TLanes.Load(x1 + c);
            var u2 = TLanes.Load(x2 + c);
            var u3 = TLanes.Load(x3 + c);
            var v = TRow.Widen<TLanes>(p0, c);
            a00 = TLanes.MultiplyAdd(v, u0, a00);
            a10 = TLanes.MultiplyAdd(v, u1, a10);
            a20 = TLanes.MultiplyAdd(v, u2, a20);
            a30 = TLanes.MultiplyAdd(v, u3, a30);
            v = TRow.Widen<TLanes>(p1, c);
            a01 = TLanes.MultiplyAdd(v, u0, a01);
            a11 = TLanes.MultiplyAdd(v, u1, a11);
            a21 = TLanes.MultiplyAdd(v, u2, a21);
            a31 = TLanes.MultiplyAdd(v, u3, a31);
            v = TRow.Widen<TLanes>(p2, c);
            a02 = TLanes.MultiplyAdd(v, u0, a02);
            a12 = TLanes.MultiplyAdd(v, u1, a12);
            a22 = TLanes.MultiplyAdd(v, u2, a22);
            a32 = TLanes.MultiplyAdd(v, u3, a32);
            v = TRow.Widen<TLanes>(p3, c);
            a03 = TLanes.MultiplyAdd(v, u0, a03);
            a13 = TLanes.MultiplyAdd(v, u1, a13);
            a23 = TLanes.MultiplyAdd(v, u2, a23);
            a33 = TLanes.MultiplyAdd(v, u3, a33);
            v = TRow.Widen<TLanes>(p4, c);
            a04 = TLanes.MultiplyAdd(v, u0, a04);
            a14 = TLanes.MultiplyAdd(v, u1, a14);
            a24 = TLanes.MultiplyAdd(v, u2, a24);
            a34 = TLanes.MultiplyAdd(v, u3, a34);
            v = TRow.Widen<TLanes>(p5, c);
            a05 = TLanes.MultiplyAdd(v, u0, a05);
            a15 = TLanes.MultiplyAdd(v, u1, a15);
            a25 = TLanes.MultiplyAdd(v, u2, a25);
            a35 = TLanes.MultiplyAdd(v, u3, a35);
        }

        TLanes.Store(a00, acc);
        TLanes.Store(a01, acc + n);
        TLanes.Store(a02, acc + (2 * n));
        TLanes.Store(a03, acc + (3 * n));
        TLanes.Store(a04, acc + (4 * n));
        TLanes.Store(a05, acc + (5 * n));
        TLanes.Store(a10, acc + (6 * n));
        TLanes.Store(a11, acc + (7 * n));
        TLanes.Store(a12, acc + (8 * n));
        TLanes.Store(a13, acc + (9 * n));
        TLanes.Store(a14, acc + (10 * n));
        TLanes.Store(a15, acc + (11 * n));
        TLanes.Store(a20, acc + (12 * n));
        TLanes.Store(a21, acc + (13 * n));
        TLanes.Store(a22, acc + (14 * n));
        TLanes.Store(a23, acc + (15 * n));
        TLanes.Store(a24, acc + (16 * n));
        TLanes.Store(a25, acc + (17 * n));
        TLanes.Store(a30, acc + (18 * n));
        TLanes.Store(a31, acc + (19 * n));
        TLanes.Store(a32, acc + (20 * n));
        TLanes.Store(a33, acc + (21 * n));
        TLanes.Store(a34, acc + (22 * n));
        TLanes.Store(a35, acc + (23 * n));
    }

    /// <summary>
    /// Columns [k0, k1) of the twelve dot products of three weight rows with four activation rows, added to
    /// the accumulators parked at <paramref name="acc"/> ([activation row][weight row]; they start from zero
    /// at column 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Chunk3x4<TRow>(byte* p0, byte* p1, byte* p2, float* x0, float* x1, float* x2, float* x3, int k0, int k1, float* acc)
        where TRow : struct, IStoredRow
    {
        int n = TLanes.Count;
        TLanes a00 = default, a01 = default, a02 = default;
        TLanes a10 = default, a11 = default, a12 = default;
        TLanes a20 = default, a21 = default, a22 = default;
        TLanes a30 = default, a31 = default, a32 = default;
        if (k0 > 0)
        {
            a00 = TLanes.Load(acc);
            a01 = TLanes.Load(acc + n);
            a02 = TLanes.Load(acc + (2 * n));
            a10 = TLanes.Load(acc + (3 * n));
            a11 = TLanes.Load(acc + (4 * n));
            a12 = TLanes.Load(acc + (5 * n));
            a20 = TLanes.Load(acc + (6 * n));
            a21 = TLanes.Load(acc + (7 * n));
            a22 = TLanes.Load(acc + (8 * n));
            a30 = TLanes.Load(acc + (9 * n));
            a31 = TLanes.Load(acc + (10 * n));
            a32 = TLanes.Load(acc + (11 * n));
        }

        for (int c = k0; c < k1; c += n)
        {
            var v0 = TRow.Widen<TLanes>(p0, c);
            var v1 = TRow.Widen<TLanes>(p1, c);
            var v2 = TRow.Widen<TLanes>(p2, c);
            var u = TLanes.Load(x0 + c);
            a00 = TLanes.MultiplyAdd(v0, u, a00);
            a01 = TLanes.MultiplyAdd(v1, u, a01);
            a02 = TLanes.MultiplyAdd(v2, u, a02);
            u = TLanes.Load(x1 + c);
            a10 = TLanes.MultiplyAdd(v0, u, a10);
            a11 = TLanes.MultiplyAdd(v1, u, a11);
            a12 = TLanes.MultiplyAdd(v2, u, a12);
            u = TLanes.Load(x2 + c);
            a20 = TLanes.MultiplyAdd(v0, u, a20);
            a21 = TLanes.MultiplyAdd(v1, u, a21);
            a22 = TLanes.MultiplyAdd(v2, u, a22);
            u = TLanes.Load(x3 + c);
            a30 = TLanes.MultiplyAdd(v0, u, a30);
            a31 = TLanes.MultiplyAdd(v1, u, a31);
            a32 = TLanes.MultiplyAdd(v2, u, a32);
        }

        TLanes.Store(a00, acc);
        TLanes.Store(a01, acc + n);
        TLanes.Store(a02, acc + (2 * n));
        TLanes.Store(a10, acc + (3 * n));
        TLanes.Store(a11, acc + (4 * n));
        TLanes.Store(a12, acc + (5 * n));
        TLanes.Store(a20, acc + (6 * n));
        TLanes.Store(a21, acc + (7 * n));
        TLanes.Store(a22, acc + (8 * n));
        TLanes.Store(a30, acc + (9 * n));
        TLanes.Store(a31, acc + (10 * n));
        TLanes.Store(a32, acc + (11 * n));
    }

    /// <summary>Tiles of float32 rows: F32 weights where they lie, other formats widened into scratch first.</summary>
    private static void Widened(in WeightMatrix w, float* xb, int tokens, float* yb, int start, int end, float* tile, int stride, float* parked)
    {
        int cols = w.Cols, outs = w.Rows;
        bool direct = w.Type == DType.F32;
        for (int o = start; o < end; o += TileRows)
        {
            int n = Math.Min(TileRows, end - o);
            float* row0 = direct ? (float*)w.RowPointer(o) : tile;
            int rowStride = direct ? w.RowStride : stride;
            if (!direct)
            {
                PrefetchNextTile(w, o + TileRows, Math.Min(o + (2 * TileRows), end));
                for (int i = 0; i < n; i++)
                {
                    WidenRow(w, o + i, tile + (i * stride));
                }
            }

            if (n < TileRows)
            {
                for (int i = 0; i < n; i++)
                {
                    for (int t = 0; t < tokens; t++)
                    {
                        yb[((long)t * outs) + o + i] = Dot(row0 + ((long)i * rowStride), xb + ((long)t * cols), cols);
                    }
                }

                continue;
            }

            float* w0 = row0, w1 = row0 + rowStride, w2 = row0 + (2L * rowStride), w3 = row0 + (3L * rowStride);
            Tiles<F32Row>((byte*)w0, (byte*)w1, (byte*)w2, (byte*)w3, xb, tokens, cols, cols - (cols % TLanes.Count), yb + o, outs, parked);
            for (int t1 = tokens / 4 * 4; t1 < tokens; t1++)
            {
                Tile4x1(w0, w1, w2, w3, xb + ((long)t1 * cols), cols, yb + ((long)t1 * outs) + o);
            }
        }
    }

    /// <summary>
    /// Four weight rows against every whole group of four of the <paramref name="tokens"/> activation rows,
    /// chunk by chunk over the first <paramref name="vectorCols"/> columns; the columns past them (only for
    /// float32 rows) are added one by one at the end, as <see cref="Dot"/> does.
    /// </summary>
    private static void Tiles<TRow>(byte* p0, byte* p1, byte* p2, byte* p3, float* x, int tokens, int cols, int vectorCols, float* y, int outs, float* parked)
        where TRow : struct, IStoredRow
    {
        int groups = tokens / 4;
        for (int k0 = 0; k0 < vectorCols; k0 += ColumnChunk)
        {
            int k1 = Math.Min(k0 + ColumnChunk, vectorCols);
            for (int g = 0; g < groups; g++)
            {
                float* xr = x + ((long)g * 4 * cols);
                Chunk4x4<TRow>(p0, p1, p2, p3, xr, xr + cols, xr + (2 * cols), xr + (3 * cols), k0, k1, parked + (g * 16 * TLanes.Count));
            }
        }

        if (vectorCols == 0)
        {
            // No whole vector: the parked registers were never written; their sums are those of zeros.
            new Span<float>(parked, groups * 16 * TLanes.Count).Clear();
        }

        for (int g = 0; g < groups; g++)
        {
            float* yg = y + ((long)g * 4 * outs);
            TLanes.Sum16(parked + (g * 16 * TLanes.Count), yg, yg + outs, yg + (2L * outs), yg + (3L * outs));
            if (vectorCols < cols)
            {
                float* xr = x + ((long)g * 4 * cols);
                for (int r = 0; r < 4; r++)
                {
                    float* xi = xr + ((long)r * cols), yr = yg + ((long)r * outs);
                    yr[0] += Tail<TRow>(p0, xi, vectorCols, cols);
                    yr[1] += Tail<TRow>(p1, xi, vectorCols, cols);
                    yr[2] += Tail<TRow>(p2, xi, vectorCols, cols);
                    yr[3] += Tail<TRow>(p3, xi, vectorCols, cols);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tail<TRow>(byte* p, float* x, int c, int cols)
        where TRow : struct, IStoredRow
    {
        float sum = 0;
        for (; c < cols; c++)
        {
            sum += TRow.WidenOne(p, c) * x[c];
        }

        return sum;
    }

    /// <summary>
    /// Columns [k0, k1) of the 16 dot products of four weight rows with four activation rows, added to the 16
    /// vector accumulators parked at <paramref name="acc"/> (which start from zero at column 0). Parked
    /// accumulators are [activation row][weight row].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Chunk4x4<TRow>(byte* p0, byte* p1, byte* p2, byte* p3, float* x0, float* x1, float* x2, float* x3, int k0, int k1, float* acc)
        where TRow : struct, IStoredRow
    {
        int n = TLanes.Count;
        TLanes a00 = default, a01 = default, a02 = default, a03 = default;
        TLanes a10 = default, a11 = default, a12 = default, a13 = default;
        TLanes a20 = default, a21 = default, a22 = default, a23 = default;
        TLanes a30 = default, a31 = default, a32 = default, a33 = default;
        if (k0 > 0)
        {
            a00 = TLanes.Load(acc);
            a01 = TLanes.Load(acc + n);
            a02 = TLanes.Load(acc + (2 * n));
            a03 = TLanes.Load(acc + (3 * n));
            a10 = TLanes.Load(acc + (4 * n));
            a11 = TLanes.Load(acc + (5 * n));
            a12 = TLanes.Load(acc + (6 * n));
            a13 = TLanes.Load(acc + (7 * n));
            a20 = TLanes.Load(acc + (8 * n));
            a21 = TLanes.Load(acc + (9 * n));
            a22 = TLanes.Load(acc + (10 * n));
            a23 = TLanes.Load(acc + (11 * n));
            a30 = TLanes.Load(acc + (12 * n));
            a31 = TLanes.Load(acc + (13 * n));
            a32 = TLanes.Load(acc + (14 * n));
            a33 = TLanes.Load(acc + (15 * n));
        }

        for (int c = k0; c < k1; c += n)
        {
            var v0 = TRow.Widen<TLanes>(p0, c);
            var v1 = TRow.Widen<TLanes>(p1, c);
            var v2 = TRow.Widen<TLanes>(p2, c);
            var v3 = TRow.Widen<TLanes>(p3, c);
            var u = TLanes.Load(x0 + c);
            a00 = TLanes.MultiplyAdd(v0, u, a00);
            a01 = TLanes.MultiplyAdd(v1, u, a01);
            a02 = TLanes.MultiplyAdd(v2, u, a02);
            a03 = TLanes.MultiplyAdd(v3, u, a03);
            u = TLanes.Load(x1 + c);
            a10 = TLanes.MultiplyAdd(v0, u, a10);
            a11 = TLanes.MultiplyAdd(v1, u, a11);
            a12 = TLanes.MultiplyAdd(v2, u, a12);
            a13 = TLanes.MultiplyAdd(v3, u, a13);
            u = TLanes.Load(x2 + c);
            a20 = TLanes.MultiplyAdd(v0, u, a20);
            a21 = TLanes.MultiplyAdd(v1, u, a21);
            a22 = TLanes.MultiplyAdd(v2, u, a22);
            a23 = TLanes.MultiplyAdd(v3, u, a23);
            u = TLanes.Load(x3 + c);
            a30 = TLanes.MultiplyAdd(v0, u, a30);
            a31 = TLanes.MultiplyAdd(v1, u, a31);
            a32 = TLanes.MultiplyAdd(v2, u, a32);
            a33 = TLanes.MultiplyAdd(v3, u, a33);
        }

        TLanes.Store(a00, acc);
        TLanes.Store(a01, acc + n);
        TLanes.Store(a02, acc + (2 * n));
        TLanes.Store(a03, acc + (3 * n));
        TLanes.Store(a10, acc + (4 * n));
        TLanes.Store(a11, acc + (5 * n));
        TLanes.Store(a12, acc + (6 * n));
        TLanes.Store(a13, acc + (7 * n));
        TLanes.Store(a20, acc + (8 * n));
        TLanes.Store(a21, acc + (9 * n));
        TLanes.Store(a22, acc + (10 * n));
        TLanes.Store(a23, acc + (11 * n));
        TLanes.Store(a30, acc + (12 * n));
        TLanes.Store(a31, acc + (13 * n));
        TLanes.Store(a32, acc + (14 * n));
        TLanes.Store(a33, acc + (15 * n));
    }

    /// <summary>
    /// Asks for the next tile's rows to be brought into L2 while this tile is widened and multiplied: in a
    /// prefill each weight row is read from memory once per token block, and rows are often a page each,
    /// where hardware prefetchers stop.
    /// </summary>
    private static void PrefetchNextTile(in WeightMatrix w, int first, int end)
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        long bytes = w.Type.BytesFor(w.Cols);
        for (int r = first; r < end; r++)
        {
            byte* p = w.RowPointer(r);
            for (long b = 0; b < bytes; b += 64)
            {
                Sse.Prefetch1(p + b);
            }
        }
    }

    /// <summary>Row <paramref name="row"/> of W as float32, block scale applied.</summary>
    internal static void WidenRow(in WeightMatrix w, int row, float* destination)
    {
        int cols = w.Cols;
        switch (w.Type)
        {
            case DType.F32:
                Buffer.MemoryCopy(w.RowPointer(row), destination, (long)cols * sizeof(float), (long)cols * sizeof(float));
                break;
            case DType.BF16:
                Widen<Bf16Row>(w.RowPointer(row), destination, cols);
                break;
            case DType.F8E4M3 when w.BlockCols % 64 == 0:
                WidenFp8(w, row, destination);
                break;
            default:
                w.DequantizeRange(row, 0, cols, new Span<float>(destination, cols));
                break;
        }
    }

    private static void Widen<TRow>(byte* source, float* destination, int count)
        where TRow : struct, IStoredRow
    {
        int i = 0;
        for (; i + TLanes.Count <= count; i += TLanes.Count)
        {
            TLanes.Store(TRow.Widen<TLanes>(source, i), destination + i);
        }

        for (; i < count; i++)
        {
            destination[i] = TRow.WidenOne(source, i);
        }
    }

    /// <summary>An FP8 row widened exactly with its block scales (see <see cref="Fp8Lanes"/>).</summary>
    private static void WidenFp8(in WeightMatrix w, int row, float* destination)
    {
        byte* source = w.RowPointer(row);
        int cols = w.Cols;
        int c = 0;
        for (; c + 64 <= cols; c += 64)
        {
            var factor = TLanes.Create(w.ScaleAt(row, c) * Fp8Lanes.TwoPow120);
            for (int k = c; k < c + 64; k += TLanes.Count)
            {
                TLanes.Store(TLanes.Multiply(TLanes.LoadFp8(source + k), factor), destination + k);
            }
        }

        if (c < cols)
        {
            w.DequantizeRange(row, c, cols - c, new Span<float>(destination + c, cols - c));
        }
    }

    /// <summary>Four weight rows with one activation row (decode).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1(float* w0, float* w1, float* w2, float* w3, float* x0, int cols, float* y)
    {
        TLanes a0 = default, a1 = default, a2 = default, a3 = default;
        int c = 0;
        for (; c + TLanes.Count <= cols; c += TLanes.Count)
        {
            var u = TLanes.Load(x0 + c);
            a0 = TLanes.MultiplyAdd(TLanes.Load(w0 + c), u, a0);
            a1 = TLanes.MultiplyAdd(TLanes.Load(w1 + c), u, a1);
            a2 = TLanes.MultiplyAdd(TLanes.Load(w2 + c), u, a2);
            a3 = TLanes.MultiplyAdd(TLanes.Load(w3 + c), u, a3);
        }

        y[0] = TLanes.Sum(a0) + Tail(w0, x0, c, cols);
        y[1] = TLanes.Sum(a1) + Tail(w1, x0, c, cols);
        y[2] = TLanes.Sum(a2) + Tail(w2, x0, c, cols);
        y[3] = TLanes.Sum(a3) + Tail(w3, x0, c, cols);
    }

    /// <summary>One dot product, accumulated in the same order as the tiles (so results do not depend on the tiling).</summary>
    private static float Dot(float* w, float* x, int cols)
    {
        TLanes a = default;
        int c = 0;
        for (; c + TLanes.Count <= cols; c += TLanes.Count)
        {
            a = TLanes.MultiplyAdd(TLanes.Load(w + c), TLanes.Load(x + c), a);
        }

        return TLanes.Sum(a) + Tail(w, x, c, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tail(float* w, float* x, int c, int cols)
    {
        float sum = 0;
        for (; c < cols; c++)
        {
            sum += w[c] * x[c];
        }

        return sum;
    }
}
