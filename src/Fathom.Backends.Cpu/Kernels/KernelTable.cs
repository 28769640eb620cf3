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
        return table;
    }
}
