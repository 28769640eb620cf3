using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Q8_0 weights times activations quantized to int8 blocks of 32 (once per product, in
/// <see cref="Prepare"/>): per block, an exact integer dot product scaled by d_w · d_x and accumulated in
/// float32. Each weight block is loaded once for up to four activation rows; activation rows are taken in
/// chunks that stay in L2 while a worker's weight rows pass over them.
/// </summary>
internal sealed unsafe class Q8_0MatMulKernel : IMatMulKernel
{
    /// <summary>Activation bytes per chunk of rows: well inside L2, next to the worker's weight rows.</summary>
    private const int ChunkBytes = 256 * 1024;

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

        _path = path;
        Activations = new Q8_0Activations(offset: path == IntegerDotPath.AvxVnni);
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
            for (int o = start; o < end; o++)
            {
                byte* wr = w.RowPointer(o);
                int r = r0;
                for (; r + 4 <= r1; r += 4)
                {
                    Dot<TDot, FourRows>(wr, blocks, r, y + ((long)r * outs) + o, outs);
                }

                switch (r1 - r)
                {
                    case 3:
                        Dot<TDot, ThreeRows>(wr, blocks, r, y + ((long)r * outs) + o, outs);
                        break;
                    case 2:
                        Dot<TDot, TwoRows>(wr, blocks, r, y + ((long)r * outs) + o, outs);
                        break;
                    case 1:
                        Dot<TDot, OneRow>(wr, blocks, r, y + ((long)r * outs) + o, outs);
                        break;
                }
            }
        }
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
            // The block's f16 scale is the low half of its first four bytes: shift it up, convert in-register.
            var dw = IntegerDotPaths.UpperHalvesToSingle(Vector256.ShiftLeft(Vector256.Create(*(int*)w), 16));
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

        y[0] = IntegerDotPaths.Sum(a0);
        if (TRows.Count > 1)
        {
            y[outs] = IntegerDotPaths.Sum(a1);
        }

        if (TRows.Count > 2)
        {
            y[2 * outs] = IntegerDotPaths.Sum(a2);
        }

        if (TRows.Count > 3)
        {
            y[3 * outs] = IntegerDotPaths.Sum(a3);
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

                    sum += IntegerDotPaths.HalfToSingle(*(ushort*)wb) * s[b] * dot;
                }

                y[((long)r * outs) + o] = sum;
            }
        }
    }
}
