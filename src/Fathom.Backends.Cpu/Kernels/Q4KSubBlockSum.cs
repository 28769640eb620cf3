using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Adds int16 pair products of one Q4_K sub-block, each multiplied by the sub-block's 6-bit scale, into
/// eight int32 sums, for one instruction set.
/// </summary>
internal interface IQ4KSubBlockSum
{
    static abstract Vector256<int> Add(Vector256<int> sum, Vector256<short> products, Vector256<short> scale);
}

/// <summary>vpdpwssd: the pmaddwd and the add in one instruction.</summary>
internal readonly struct VnniQ4KSum : IQ4KSubBlockSum
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Add(Vector256<int> sum, Vector256<short> products, Vector256<short> scale) =>
        AvxVnni.MultiplyWideningAndAdd(sum, products, scale);
}

internal readonly struct Avx2Q4KSum : IQ4KSubBlockSum
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Add(Vector256<int> sum, Vector256<short> products, Vector256<short> scale) =>
        Avx2.Add(sum, Avx2.MultiplyAddAdjacent(products, scale));
}
