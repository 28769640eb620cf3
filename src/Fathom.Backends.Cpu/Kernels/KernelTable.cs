using Fathom.Backends.Cpu.Kernels.Lanes;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>The matrix-product kernel of each weight format, chosen once when the backend starts.</summary>
internal static class KernelTable
{
    public static IMatMulKernel[] Create(int workers, FloatVectorPath path)
    {
        var generic = new GenericMatMulKernel(workers);
        var table = new IMatMulKernel[Enum.GetValues<DType>().Length];
        Array.Fill(table, generic);
        IMatMulKernel? dense = path switch
        {
            FloatVectorPath.Avx512 => new DenseMatMulKernel<Lanes512>(workers),
            FloatVectorPath.Avx2 => new DenseMatMulKernel<Lanes256>(workers),
            FloatVectorPath.Portable => new DenseMatMulKernel<Lanes128>(workers),
            _ => null,
        };
        if (dense is not null)
        {
            foreach (var type in new[] { DType.F32, DType.BF16, DType.F16, DType.F8E4M3 })
            {
                table[(int)type] = dense;
            }
        }

        table[(int)DType.Q8_0] = new Q8_0MatMulKernel(workers);
        table[(int)DType.Q4K] = new Q4KMatMulKernel(workers);
        table[(int)DType.I8] = new Int8MatMulKernel(workers);
        table[(int)DType.U4] = new Int4MatMulKernel(workers);
        return table;
    }

    /// <summary>The register-tiled x · W kernel of the path, or null where products fall back to dequantized rows.</summary>
    public static ITransposedKernel? CreateTransposed(FloatVectorPath path) => path switch
    {
        FloatVectorPath.Avx512 => new DenseTransposedKernel<Lanes512>(),
        FloatVectorPath.Avx2 => new DenseTransposedKernel<Lanes256>(),
        FloatVectorPath.Portable => new DenseTransposedKernel<Lanes128>(),
        _ => null,
    };
}
