using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>The matrix-product kernel of each weight format, chosen once when the backend starts.</summary>
internal static class KernelTable
{
    public static IMatMulKernel[] Create(int workers)
    {
        var generic = new GenericMatMulKernel(workers);
        var table = new IMatMulKernel[Enum.GetValues<DType>().Length];
        Array.Fill(table, generic);
        if (DenseMatMulKernel.IsSupported)
        {
            var dense = new DenseMatMulKernel(workers);
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
}
