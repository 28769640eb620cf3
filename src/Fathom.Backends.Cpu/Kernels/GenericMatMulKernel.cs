using System.Numerics.Tensors;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Any format: dequantize a weight row into float32 once, then dot it with every activation row. The
/// fallback for formats without a fused kernel.
/// </summary>
internal sealed unsafe class GenericMatMulKernel(int workers) : IMatMulKernel
{
    private readonly float[][] _scratch = new float[workers][];

    public void Prepare(in WeightMatrix w, float* x, int rows)
    {
    }

    public void Run(in WeightMatrix w, float* x, int rows, float* y, int start, int end, int worker)
    {
        int cols = w.Cols, outs = w.Rows;
        var row = _scratch[worker] = PinnedBuffer.Ensure(_scratch[worker], cols);
        bool direct = w.Type == DType.F32;
        for (int o = start; o < end; o++)
        {
            ReadOnlySpan<float> wr;
            if (direct)
            {
                wr = new ReadOnlySpan<float>(w.RowPointer(o), cols);
            }
            else
            {
                RowDequantizer.Dequantize(w, o, 0, cols, row);
                wr = row.AsSpan(0, cols);
            }

            for (int r = 0; r < rows; r++)
            {
                y[((long)r * outs) + o] = TensorPrimitives.Dot(new ReadOnlySpan<float>(x + ((long)r * cols), cols), wr);
            }
        }
    }
}
