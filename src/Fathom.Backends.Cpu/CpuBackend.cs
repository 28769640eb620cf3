using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Fathom.Backends.Cpu.Kernels;
using Fathom.Core;

namespace Fathom.Backends.Cpu;

/// <summary>
/// The fast CPU backend: vectorised kernels (System.Numerics.Tensors) and matrix products split over a
/// persistent worker pool. Weights are read in their stored format, one row (or row segment) at a time,
/// and each dequantized row serves every activation row of the batch. One caller at a time.
/// </summary>
public sealed unsafe class CpuBackend : IBackend, IDisposable
{
    private readonly WorkerPool _pool;
    private readonly Lock _gate = new();
    private readonly MatMulJob _matMul;
    private readonly IMatMulKernel[] _kernels;
    private readonly MatMulTransposedJob _matMulTransposed;
    private readonly ITransposedKernel? _transposed;

    public CpuBackend(int threads = 0)
        : this(threads, FloatVectorPaths.Best)
    {
    }

    /// <summary>A backend whose dense kernels use <paramref name="path"/> (tests run every path the machine has).</summary>
    internal CpuBackend(int threads, FloatVectorPath path)
    {
        if (!FloatVectorPaths.IsSupported(path))
        {
            throw new PlatformNotSupportedException($"this CPU cannot run the {path} kernels");
        }

        _pool = new WorkerPool(threads > 0 ? threads : Environment.ProcessorCount);
        _matMul = new MatMulJob(_pool.ThreadCount);
        _kernels = KernelTable.Create(_pool.ThreadCount, path);
        _transposed = KernelTable.CreateTransposed(path);
        _matMulTransposed = new MatMulTransposedJob(_pool.ThreadCount);
    }

    public string Name => "cpu";

    public int ThreadCount => _pool.ThreadCount;

    public void MatMul(in WeightMatrix weight, ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        ReferenceBackend.CheckLengths(x, (long)rows * weight.Cols, y, (long)rows * weight.Rows);
        if (rows == 0 || weight.Rows == 0)
        {
            return;
        }

        lock (_gate)
        {
            fixed (float* px = x, py = y)
            {
                var kernel = _kernels[(int)weight.Type];
                kernel.Prepare(weight, px, rows);
                _matMul.Kernel = kernel;
                _matMul.Set(weight, px, py, rows);
                // Aim for chunks of at least ~64K weights so that dispatch overhead stays small.
                _pool.Run(_matMul, weight.Rows, Math.Max(1, 65536 / Math.Max(1, weight.Cols * Math.Min(rows, 8))));
                _matMul.Clear();
            }
        }
    }

    public void MatMulTransposed(in WeightMatrix weight, ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        ReferenceBackend.CheckLengths(x, (long)rows * weight.Rows, y, (long)rows * weight.Cols);
        if (rows == 0 || weight.Cols == 0)
        {
            return;
        }

        lock (_gate)
        {
            fixed (float* px = x, py = y)
            {
                _matMulTransposed.Set(weight, px, py, rows);
                _matMulTransposed.Fast = _transposed is not null && _transposed.Handles(weight) ? _transposed : null;
                int tile = _matMulTransposed.Fast?.TileColumns ?? MatMulTransposedJob.Tile;
                // As for MatMul: chunks of at least ~64K weights, so small products stay on one thread.
                _pool.Run(_matMulTransposed, (weight.Cols + tile - 1) / tile, Math.Max(1, 65536 / (Math.Max(1, weight.Rows) * tile * Math.Min(rows, 8))));
                _matMulTransposed.Clear();
            }
        }
    }

    public void Embedding(in WeightMatrix table, ReadOnlySpan<int> ids, Span<float> y)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)table.Rows)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {ids[i]} outside the vocabulary [0, {table.Rows})");
            }

            RowDequantizer.Dequantize(table, ids[i], 0, table.Cols, y.Slice(i * table.Cols, table.Cols));
        }
    }

    public void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        int width = weight.Length;
        for (int r = 0; r < x.Length / width; r++)
        {
            var xr = x.Slice(r * width, width);
            var yr = y.Slice(r * width, width);
            float sumSquares = TensorPrimitives.SumOfSquares(xr);
            float inv = 1f / MathF.Sqrt((sumSquares / width) + eps);
            TensorPrimitives.Multiply(xr, inv, yr);
            TensorPrimitives.Multiply(yr, weight, yr);
        }
    }

    public void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        // silu(g) · u = g · u / (1 + e^-g), element by element so that y may alias gate or up.
        int n = gate.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256<float>.One;
            for (; i + 8 <= n; i += 8)
            {
                var g = Vector256.Create(gate.Slice(i, 8));
                var u = Vector256.Create(up.Slice(i, 8));
                (g * u / (one + Vector256.Exp(-g))).CopyTo(y.Slice(i, 8));
            }
        }

        for (; i < n; i++)
        {
            float g = gate[i];
            y[i] = g * up[i] / (1f + MathF.Exp(-g));
        }
    }

    public void ScaleAdd(ReadOnlySpan<float> x, float a, Span<float> y) => TensorPrimitives.MultiplyAdd(x, a, y, y);

    public void Softmax(Span<float> x)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        float sum = TensorPrimitives.Sum(x);
        TensorPrimitives.Multiply(x, 1f / sum, x);
    }

    public void RopeInterleaved(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        for (int i = 0; i < cos.Length; i++)
        {
            float a = x[2 * i], b = x[(2 * i) + 1];
            x[2 * i] = (a * cos[i]) - (b * sin[i]);
            x[(2 * i) + 1] = (a * sin[i]) + (b * cos[i]);
        }
    }

    public void Dispose() => _pool.Dispose();

    /// <summary>A matrix product's operands, set before each dispatch; per-worker scratch rows are kept between calls.</summary>
    private abstract class MatrixJob(int workers) : IParallelJob
    {
        private readonly float[][] _scratch = new float[workers][];

        protected WeightMatrix W { get; private set; }

        protected float* X { get; private set; }

        protected float* Y { get; private set; }

        protected int Rows { get; private set; }

        public void Set(in WeightMatrix w, float* x, float* y, int rows)
        {
            W = w;
            X = x;
            Y = y;
            Rows = rows;
        }

        public void Clear() => W = default;

        public abstract void Execute(int start, int end, int worker);

        protected float[] Scratch(int worker, int length) => _scratch[worker] = PinnedBuffer.Ensure(_scratch[worker], length);
    }

    /// <summary>Output rows split over workers, each range computed by the weight format's kernel.</summary>
    private sealed class MatMulJob(int workers) : MatrixJob(workers)
    {
        public IMatMulKernel Kernel { get; set; } = null!;

        public override void Execute(int start, int end, int worker) => Kernel.Run(W, X, Rows, Y, start, end, worker);
    }

    /// <summary>Output columns split into tiles over workers; each worker streams all weight rows of its tile.</summary>
    private sealed class MatMulTransposedJob(int workers) : MatrixJob(workers)
    {
        public const int Tile = 256;

        /// <summary>The register-tiled kernel when it takes this product (its tiles are then the units of work).</summary>
        public ITransposedKernel? Fast { get; set; }

        public override void Execute(int start, int end, int worker)
        {
            if (Fast is not null)
            {
                Fast.Run(W, X, Rows, Y, start, end);
                return;
            }

            int k = W.Rows, cols = W.Cols;
            var seg = Scratch(worker, Tile);
            for (int tile = start; tile < end; tile++)
            {
                int c0 = tile * Tile;
                int width = Math.Min(Tile, cols - c0);
                for (int r = 0; r < Rows; r++)
                {
                    new Span<float>(Y + ((long)r * cols) + c0, width).Clear();
                }

                for (int i = 0; i < k; i++)
                {
                    RowDequantizer.Dequantize(W, i, c0, width, seg);
                    var wr = seg.AsSpan(0, width);
                    for (int r = 0; r < Rows; r++)
                    {
                        float a = X[((long)r * k) + i];
                        if (a != 0)
                        {
                            var yr = new Span<float>(Y + ((long)r * cols) + c0, width);
                            TensorPrimitives.MultiplyAdd(wr, a, yr, yr);
                        }
                    }
                }
            }
        }
    }
}
