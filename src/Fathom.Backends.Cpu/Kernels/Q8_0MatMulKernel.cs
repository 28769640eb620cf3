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
                    Dot<TDot, FourRows>(wr, blocks, r, y + ((long)r * outs) + o, outs);
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

    /// <summary>Two weight rows against four activation rows starting at <paramref name="row"/>: y[k·outs + j] gets (row + k, w_j).</summary>
    private void Dot2x4<TDot>(byte* w0, byte* w1, int blocks, int row, float* y, int outs)
        where TDot : struct, IQ8_0BlockDot
    {
        nint cols = blocks * Block;
        byte* x0 = Activations.Levels + (row * cols);
        float* s0 = Activations.Scales + ((nint)row * blocks);
        nint x2 = 2 * cols, x3 = 3 * cols, s1 = blocks, s2 = 2 * s1, s3 = 3 * s1;
        Vector256<float> a00 = default, a10 = default, a20 = default, a30 = default;
        Vector256<float> a01 = default, a11 = default, a21 = default, a31 = default;
        for (int b = 0; b < blocks; b++, w0 += BlockBytes, w1 += BlockBytes, x0 += Block, s0++)
        {
            var d0 = QuantizedLanes.UpperHalvesToSingle(Vector256.ShiftLeft(Vector256.Create(*(int*)w0), 16));
            var d1 = QuantizedLanes.UpperHalvesToSingle(Vector256.ShiftLeft(Vector256.Create(*(int*)w1), 16));
            var q0 = Vector256.Load((sbyte*)(w0 + 2));
            var q1 = Vector256.Load((sbyte*)(w1 + 2));
            var c0 = TDot.Shared(q0);
            var c1 = TDot.Shared(q1);

            var x = Vector256.Load(x0);
            var dx = Vector256.Create(s0[0]);
            a00 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(c0, x, q0)), d0 * dx, a00);
            a01 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(c1, x, q1)), d1 * dx, a01);
            x = Vector256.Load(x0 + cols);
            dx = Vector256.Create(s0[s1]);
            a10 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(c0, x, q0)), d0 * dx, a10);
            a11 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(c1, x, q1)), d1 * dx, a11);
            x = Vector256.Load(x0 + x2);
            dx = Vector256.Create(s0[s2]);
            a20 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(c0, x, q0)), d0 * dx, a20);
            a21 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(c1, x, q1)), d1 * dx, a21);
            x = Vector256.Load(x0 + x3);
            dx = Vector256.Create(s0[s3]);
            a30 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(c0, x, q0)), d0 * dx, a30);
            a31 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(c1, x, q1)), d1 * dx, a31);
        }

        y[0] = QuantizedLanes.Sum(a00);
        y[1] = QuantizedLanes.Sum(a01);
        y[outs] = QuantizedLanes.Sum(a10);
        y[outs + 1] = QuantizedLanes.Sum(a11);
        y[2 * outs] = QuantizedLanes.Sum(a20);
        y[(2 * outs) + 1] = QuantizedLanes.Sum(a21);
        y[3 * outs] = QuantizedLanes.Sum(a30);
        y[(3 * outs) + 1] = QuantizedLanes.Sum(a31);
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
