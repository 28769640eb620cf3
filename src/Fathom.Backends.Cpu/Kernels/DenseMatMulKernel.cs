using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Fathom.Backends.Cpu.Kernels.Lanes;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Products with float weights as stored (F32, BF16, F16, FP8 e4m3 with block scales). A worker takes
/// four weight rows at a time, widens them once into float32 scratch that stays in L1, and multiplies
/// them with the activation rows four at a time in a register-blocked 4x4 tile of vector FMAs, so a
/// weight is read from memory once per block of up to <see cref="TokenBlock"/> activation rows.
/// </summary>
internal sealed unsafe class DenseMatMulKernel<TLanes>(int workers) : IMatMulKernel
    where TLanes : struct, IFloatLanes<TLanes>
{
    /// <summary>Activation rows that share one widening of a weight tile (prefill); keeps their slice of x in L2.</summary>
    private const int TokenBlock = 64;

    private const int TileRows = 4;

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
        // FP8 rows that the decode path also takes are widened without their scales, and multiplied with
        // activations that carry them (as the decode path does), so a row rounds the same in every batch.
        bool raw = Fp8ScaledActivations.Applies(w);
        // Rows of the tile are a cache line apart from a power-of-two stride: widths like 2048 would
        // otherwise put the four rows (and the stores that fill them) on the same L1 sets.
        int stride = cols + 16;
        var scratch = _scratch[worker] = PinnedBuffer.Ensure(_scratch[worker], (TileRows * stride) + 16);
        fixed (float* pinned = scratch)
        {
            float* tile = (float*)(((nint)pinned + 63) & ~(nint)63);
            for (int t0 = 0; t0 < rows; t0 += TokenBlock)
            {
                int tokens = Math.Min(TokenBlock, rows - t0);
                float* xb = x + ((long)t0 * cols), yb = y + ((long)t0 * outs);
                for (int o = start; o < end; o += TileRows)
                {
                    int n = Math.Min(TileRows, end - o);
                    // Float32 rows are used where they lie; other formats are widened into the tile once.
                    bool direct = w.Type == DType.F32;
                    float* row0 = direct ? (float*)w.RowPointer(o) : tile;
                    int rowStride = direct ? w.RowStride : stride;
                    if (!direct)
                    {
                        PrefetchNextTile(w, o + TileRows, end);
                        for (int i = 0; i < n; i++)
                        {
                            WidenRow(w, o + i, tile + (i * stride), raw);
                        }
                    }

                    if (n < TileRows || (raw && !Fp8ScaledActivations.SameScaleRow(w, o, o + 3)))
                    {
                        for (int i = 0; i < n; i++)
                        {
                            float* xi = raw ? scaled.For(w, o + i, xb, tokens) : xb;
                            for (int t = 0; t < tokens; t++)
                            {
                                yb[((long)t * outs) + o + i] = Dot(row0 + ((long)i * rowStride), xi + ((long)t * cols), cols);
                            }
                        }

                        continue;
                    }

                    float* xt = raw ? scaled.For(w, o, xb, tokens) : xb;
                    float* w0 = row0, w1 = row0 + rowStride, w2 = row0 + (2L * rowStride), w3 = row0 + (3L * rowStride);
                    int t1 = 0;
                    for (; t1 + 4 <= tokens; t1 += 4)
                    {
                        float* xr = xt + ((long)t1 * cols);
                        Tile4x4(w0, w1, w2, w3, xr, xr + cols, xr + (2 * cols), xr + (3 * cols), cols, yb + ((long)t1 * outs) + o, outs);
                    }

                    for (; t1 < tokens; t1++)
                    {
                        Tile4x1(w0, w1, w2, w3, xt + ((long)t1 * cols), cols, yb + ((long)t1 * outs) + o);
                    }
                }
            }
        }
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
        for (int r = first; r < Math.Min(first + TileRows, end); r++)
        {
            byte* p = w.RowPointer(r);
            for (long b = 0; b < bytes; b += 64)
            {
                Sse.Prefetch1(p + b);
            }
        }
    }

    /// <summary>
    /// Row <paramref name="row"/> of W as float32, block scale applied — or, for <paramref name="raw"/> FP8,
    /// the bytes' values times 2^-120 without it (the activations carry the factors then).
    /// </summary>
    internal static void WidenRow(in WeightMatrix w, int row, float* destination, bool raw = false)
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
            case DType.F8E4M3 when raw:
                Widen<Fp8RawRow>(w.RowPointer(row), destination, cols);
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

    /// <summary>The 16 dot products of four weight rows with four activation rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4(float* w0, float* w1, float* w2, float* w3, float* x0, float* x1, float* x2, float* x3, int cols, float* y, int outs)
    {
        TLanes a00 = default, a01 = default, a02 = default, a03 = default;
        TLanes a10 = default, a11 = default, a12 = default, a13 = default;
        TLanes a20 = default, a21 = default, a22 = default, a23 = default;
        TLanes a30 = default, a31 = default, a32 = default, a33 = default;
        int c = 0;
        for (; c + TLanes.Count <= cols; c += TLanes.Count)
        {
            var v0 = TLanes.Load(w0 + c);
            var v1 = TLanes.Load(w1 + c);
            var v2 = TLanes.Load(w2 + c);
            var v3 = TLanes.Load(w3 + c);
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

        float* r0 = y, r1 = y + outs, r2 = y + (2 * outs), r3 = y + (3 * outs);
        r0[0] = TLanes.Sum(a00) + Tail(w0, x0, c, cols);
        r0[1] = TLanes.Sum(a01) + Tail(w1, x0, c, cols);
        r0[2] = TLanes.Sum(a02) + Tail(w2, x0, c, cols);
        r0[3] = TLanes.Sum(a03) + Tail(w3, x0, c, cols);
        r1[0] = TLanes.Sum(a10) + Tail(w0, x1, c, cols);
        r1[1] = TLanes.Sum(a11) + Tail(w1, x1, c, cols);
        r1[2] = TLanes.Sum(a12) + Tail(w2, x1, c, cols);
        r1[3] = TLanes.Sum(a13) + Tail(w3, x1, c, cols);
        r2[0] = TLanes.Sum(a20) + Tail(w0, x2, c, cols);
        r2[1] = TLanes.Sum(a21) + Tail(w1, x2, c, cols);
        r2[2] = TLanes.Sum(a22) + Tail(w2, x2, c, cols);
        r2[3] = TLanes.Sum(a23) + Tail(w3, x2, c, cols);
        r3[0] = TLanes.Sum(a30) + Tail(w0, x3, c, cols);
        r3[1] = TLanes.Sum(a31) + Tail(w1, x3, c, cols);
        r3[2] = TLanes.Sum(a32) + Tail(w2, x3, c, cols);
        r3[3] = TLanes.Sum(a33) + Tail(w3, x3, c, cols);
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
