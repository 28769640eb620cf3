using System.Numerics.Tensors;
using System.Runtime.Intrinsics.X86;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>How an integer weight format (int8, packed int4) reads one weight row, for <see cref="IntegerRowKernel{TFormat}"/>.</summary>
internal unsafe interface IIntegerRowFormat
{
    /// <summary>The dot product of weight row o with one float32 activation row, widening in AVX-512 registers.</summary>
    static abstract float FusedRow(in WeightMatrix w, int o, float* x, int cols);

    /// <summary>Weight row o as float32 (scales and zero points applied) into the first Cols elements of destination.</summary>
    static abstract void Dequantize(in WeightMatrix w, int o, float[] destination);
}

/// <summary>
/// The product loop the integer formats share (activations stay float32): one to four activation rows
/// (decode) take the fused row product, each weight byte read from memory once; larger batches dequantize
/// each weight row once into float32 and take its dot product with every activation row.
/// </summary>
internal abstract unsafe class IntegerRowKernel<TFormat>(int workers) : IMatMulKernel
    where TFormat : IIntegerRowFormat
{
    private const int FusedRows = 4;
    private readonly float[][] _scratch = new float[workers][];

    public void Prepare(in WeightMatrix w, float* x, int rows)
    {
    }

    public void Run(in WeightMatrix w, float* x, int rows, float* y, int start, int end, int worker)
    {
        int cols = w.Cols, outs = w.Rows;
        if (rows <= FusedRows && Avx512F.IsSupported && w.BlockCols % 16 == 0 && cols % 16 == 0)
        {
            for (int o = start; o < end; o++)
            {
                for (int r = 0; r < rows; r++)
                {
                    y[((long)r * outs) + o] = TFormat.FusedRow(w, o, x + ((long)r * cols), cols);
                }
            }

            return;
        }

        var row = _scratch[worker] = PinnedBuffer.Ensure(_scratch[worker], cols);
        for (int o = start; o < end; o++)
        {
            TFormat.Dequantize(w, o, row);
            var wr = new ReadOnlySpan<float>(row, 0, cols);
            for (int r = 0; r < rows; r++)
            {
                y[((long)r * outs) + o] = TensorPrimitives.Dot(new ReadOnlySpan<float>(x + ((long)r * cols), cols), wr);
            }
        }
    }
}
