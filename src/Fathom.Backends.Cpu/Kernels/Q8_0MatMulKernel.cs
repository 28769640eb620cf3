using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Q8_0 weights times activations quantized to int8 blocks of 32 (once per product, in
/// <see cref="Prepare"/>): per block, an exact integer dot product scaled by d_w · d_x and accumulated in
/// float32. Each weight block is loaded once for up to four activation rows (two weight rows at a time when
/// there are four or more, so each activation block load serves both); activation rows are taken in chunks
/// that stay in L2 while a worker's weight rows pass over them.
/// </summary>
internal sealed unsafe class Q8_0MatMulKernel : IMatMulKernel
{
    /// <summary>Activation bytes per chunk of rows: well inside L2, next to the worker's weight rows.</summary>
    private const int ChunkBytes = 256 * 1024;

    /// <summary>How far ahead of the weight row being read the next bytes are requested.</summary>
    private const int PrefetchBytes = 2048;

    private const int Block = Q8_0.BlockElements;
    private const int BlockBytes = Q8_0.BlockBytes;

    private readonly IntegerDotPath _path;

    public Q8_0MatMulKernel(int workers)
        : this(workers, IntegerDotPaths.Best)
    {
    }

    /// <summary>A kernel on a chosen instruction set (tests run every path the machine has).</summary>
    internal Q8_0MatMulKernel(int workers, IntegerDotPath path)
    {
        _ = workers;
        if (!IntegerDotPaths.IsSupported(path))
        {
            throw new PlatformNotSupportedException($"{path} is not supported on this CPU");
        }

        _path = IntegerDotPaths.Narrow(path);
        Activations = new Q8_0Activations(offset: _path == IntegerDotPath.AvxVnni);
    }

    /// <summary>The activations as the last <see cref="Prepare"/> quantized them.</summary>
    internal Q8_0Activations Activations { get; }

    public void Prepare(in WeightMatrix w, float* x, int rows) => Activations.Quantize(x, rows, w.Cols);

    public void Run(in WeightMatrix w, float* x, int rows, float* y, int start, int end, int worker)
    {
        switch (_path)
        {
            case IntegerDotPath.AvxVnni:
                Run<VnniQ8_0Dot>(w, rows, y, start, end);
                break;
            case IntegerDotPath.Avx2:
                Run<Avx2Q8_0Dot>(w, rows, y, start, end);
                break;
            default:
                RunPortable(w, rows, y, start, end);
                break;
        }
    }

    private void Run<TDot>(in WeightMatrix w, int rows, float* y, int start, int end)
        where TDot : struct, IQ8_0BlockDot
    {
        int cols = w.Cols, outs = w.Rows, blocks = cols / Block;
        int chunk = Math.Max(4, ChunkBytes / Math.Max(cols, 1) / 4 * 4);
        for (int r0 = 0; r0 < rows; r0 += chunk)
        {
            int r1 = Math.Min(rows, r0 + chunk);
            int o = start;
            for (; o + 2 <= end && r1 - r0 >= 4; o += 2)
            {
                // Two weight rows at a time share each activation load and halve the per-row overheads.
                byte* w0 = w.RowPointer(o), w1 = w.RowPointer(o + 1);
                int r = r0;
                for (; r + 4 <= r1; r += 4)
                {
                    Dot2x4<TDot>(w0, w1, blocks, r, y + ((long)r * outs) + o, outs);
                }

                RowTail<TDot>(w0, blocks, r, r1, y + ((long)r * outs) + o, outs);
                RowTail<TDot>(w1, blocks, r, r1, y + ((long)r * outs) + o + 1, outs);
            }

            for (; o < end; o++)
            {
                byte* wr = w.RowPointer(o);
                int r = r0;
                for (; r + 4 <= r1; r += 4)
                {
                    Dot1x4<TDot>(wr, blocks, r, y + ((long)r * outs) + o, outs);
                }

                RowTail<TDot>(wr, blocks, r, r1, y + ((long)r * outs) + o, outs);
            }
        }
    }

    /// <summary>Activation rows [r, r1), fewer than four, against one weight row.</summary>
    private void RowTail<TDot>(byte* w, int blocks, int r, int r1, float* y, int outs)
        where TDot : struct, IQ8_0BlockDot
    {
        switch (r1 - r)
        {
            case 3:
                Dot<TDot, ThreeRows>(w, blocks, r, y, outs);
                break;
            case 2:
                Dot<TDot, TwoRows>(w, blocks, r, y, outs);
                break;
            case 1:
                Dot<TDot, OneRow>(w, blocks, r, y, outs);
                break;
        }
    }

    /// <summary>
    /// Two weight rows against four activation rows starting at <paramref name="row"/> (a multiple of 4):
    /// y[k·outs + j] gets (row + k, w_j). Per block the eight integer dot products are reduced together
    /// (horizontal adds, pair (j, k) in lane 4j + k) and scaled by one vector of the eight d_w·d_x, so the
    /// float work is one conversion and one FMA per block instead of eight each, and eight accumulators
    /// become one (no spills on AVX2's 16 registers).
    /// </summary>
    private void Dot2x4<TDot>(byte* w0, byte* w1, int blocks, int row, float* y, int outs)
        where TDot : struct, IQ8_0BlockDot
    {
        nint cols = blocks * Block;
        byte* x0 = Activations.Levels + (row * cols);
        float* quad = Activations.QuadScales + ((nint)(row / 4) * blocks * 4);
        nint x2 = 2 * cols, x3 = 3 * cols;
        Vector256<float> acc = default;
        for (int b = 0; b < blocks; b++, w0 += BlockBytes, w1 += BlockBytes, x0 += Block, quad += 4)
        {
            // [d_w0 ×4 | d_w1 ×4] · [d_x0..d_x3 | d_x0..d_x3]: the f16 scales are the low halves of each block's first four bytes.
            var halves = Avx2.Blend(Vector256.Create(*(int*)w0), Vector256.Create(*(int*)w1), 0xF0);
            var scale = QuantizedLanes.UpperHalvesToSingle(Vector256.ShiftLeft(halves, 16)) * Avx.BroadcastVector128ToVector256(quad);
            var q0 = Vector256.Load((sbyte*)(w0 + 2));
            var q1 = Vector256.Load((sbyte*)(w1 + 2));
            var c0 = TDot.Shared(q0);
            var c1 = TDot.Shared(q1);

            var x = Vector256.Load(x0);
            var d00 = TDot.Dot(c0, x, q0);
            var d10 = TDot.Dot(c1, x, q1);
            x = Vector256.Load(x0 + cols);
            var h00 = Avx2.HorizontalAdd(d00, TDot.Dot(c0, x, q0));
            var h10 = Avx2.HorizontalAdd(d10, TDot.Dot(c1, x, q1));
            x = Vector256.Load(x0 + x2);
            var d02 = TDot.Dot(c0, x, q0);
            var d12 = TDot.Dot(c1, x, q1);
            x = Vector256.Load(x0 + x3);
            var h01 = Avx2.HorizontalAdd(d02, TDot.Dot(c0, x, q0));
            var h11 = Avx2.HorizontalAdd(d12, TDot.Dot(c1, x, q1));

            // Per 128-bit half: lanes (j, k) for k = 0..3 of that half's sums; add the halves across.
            var g0 = Avx2.HorizontalAdd(h00, h01);
            var g1 = Avx2.HorizontalAdd(h10, h11);
            var sums = Avx2.Permute2x128(g0, g1, 0x20) + Avx2.Permute2x128(g0, g1, 0x31);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), scale, acc);
        }

        y[0] = acc.GetElement(0);
        y[outs] = acc.GetElement(1);
        y[2 * outs] = acc.GetElement(2);
        y[3 * outs] = acc.GetElement(3);
        y[1] = acc.GetElement(4);
        y[outs + 1] = acc.GetElement(5);
        y[(2 * outs) + 1] = acc.GetElement(6);
        y[(3 * outs) + 1] = acc.GetElement(7);
    }

    /// <summary>
    /// One weight row against four activation rows starting at <paramref name="row"/> (a multiple of 4), with the
    /// arithmetic of <see cref="Dot2x4"/> for each (row, weight row) pair, so a weight row gives the same bits
    /// whichever tile a worker's range puts it in.
    /// </summary>
    private void Dot1x4<TDot>(byte* w, int blocks, int row, float* y, int outs)
        where TDot : struct, IQ8_0BlockDot
    {
        nint cols = blocks * Block;
        byte* x0 = Activations.Levels + (row * cols);
        float* quad = Activations.QuadScales + ((nint)(row / 4) * blocks * 4);
        nint x2 = 2 * cols, x3 = 3 * cols;
        Vector128<float> acc = default;
        for (int b = 0; b < blocks; b++, w += BlockBytes, x0 += Block, quad += 4)
        {
            Sse.Prefetch0(w + PrefetchBytes);
            var scale = QuantizedLanes.UpperHalvesToSingle(Vector256.ShiftLeft(Vector256.Create(*(int*)w), 16)).GetLower() * Vector128.Load(quad);
            var q = Vector256.Load((sbyte*)(w + 2));
            var c = TDot.Shared(q);
            var h0 = Avx2.HorizontalAdd(TDot.Dot(c, Vector256.Load(x0), q), TDot.Dot(c, Vector256.Load(x0 + cols), q));
            var h1 = Avx2.HorizontalAdd(TDot.Dot(c, Vector256.Load(x0 + x2), q), TDot.Dot(c, Vector256.Load(x0 + x3), q));
            var g = Avx2.HorizontalAdd(h0, h1);
            var sums = g.GetLower() + g.GetUpper();
            acc = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(sums), scale, acc);
        }

        y[0] = acc.GetElement(0);
        y[outs] = acc.GetElement(1);
        y[2 * outs] = acc.GetElement(2);
        y[3 * outs] = acc.GetElement(3);
    }

    /// <summary>One weight row against TRows activation rows starting at <paramref name="row"/>; y[k·outs] gets row + k.</summary>
    private void Dot<TDot, TRows>(byte* w, int blocks, int row, float* y, int outs)
        where TDot : struct, IQ8_0BlockDot
        where TRows : struct, IQuantizedRowTile
    {
        nint cols = blocks * Block;
        byte* x0 = Activations.Levels + (row * cols);
        float* s0 = Activations.Scales + ((nint)row * blocks);
        nint x2 = 2 * cols, x3 = 3 * cols, s1 = blocks, s2 = 2 * s1, s3 = 3 * s1;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, w += BlockBytes, x0 += Block, s0++)
        {
            // Rows follow each other in memory: keep the stream PrefetchBytes ahead (hardware prefetchers stop at 4 KiB pages).
            Sse.Prefetch0(w + PrefetchBytes);

            // The block's f16 scale is the low half of its first four bytes: shift it up, convert in-register.
            var dw = QuantizedLanes.UpperHalvesToSingle(Vector256.ShiftLeft(Vector256.Create(*(int*)w), 16));
            var q = Vector256.Load((sbyte*)(w + 2));
            var shared = TDot.Shared(q);
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(shared, Vector256.Load(x0), q)), dw * Vector256.Create(s0[0]), a0);
            if (TRows.Count > 1)
            {
                a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(shared, Vector256.Load(x0 + cols), q)), dw * Vector256.Create(s0[s1]), a1);
            }

            if (TRows.Count > 2)
            {
                a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(shared, Vector256.Load(x0 + x2), q)), dw * Vector256.Create(s0[s2]), a2);
            }

            if (TRows.Count > 3)
            {
                a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(shared, Vector256.Load(x0 + x3), q)), dw * Vector256.Create(s0[s3]), a3);
            }
        }

        y[0] = QuantizedLanes.Sum(a0);
        if (TRows.Count > 1)
        {
            y[outs] = QuantizedLanes.Sum(a1);
        }

        if (TRows.Count > 2)
        {
            y[2 * outs] = QuantizedLanes.Sum(a2);
        }

        if (TRows.Count > 3)
        {
            y[3 * outs] = QuantizedLanes.Sum(a3);
        }
    }

    private void RunPortable(in WeightMatrix w, int rows, float* y, int start, int end)
    {
        int cols = w.Cols, outs = w.Rows, blocks = cols / Block;
        for (int o = start; o < end; o++)
        {
            byte* wr = w.RowPointer(o);
            for (int r = 0; r < rows; r++)
            {
                var x = (sbyte*)Activations.Levels + ((long)r * cols);
                float* s = Activations.Scales + ((long)r * blocks);
                float sum = 0;
                for (int b = 0; b < blocks; b++)
                {
                    byte* wb = wr + (b * BlockBytes);
                    var q = (sbyte*)(wb + 2);
                    int dot = 0;
                    for (int i = 0; i < Block; i++)
                    {
                        dot += q[i] * x[(b * Block) + i];
                    }

                    sum += QuantizedLanes.HalfToSingle(*(ushort*)wb) * s[b] * dot;
                }

                y[((long)r * outs) + o] = sum;
            }
        }
    }
}
