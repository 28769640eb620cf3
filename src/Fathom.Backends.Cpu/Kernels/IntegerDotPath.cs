using System.Runtime.Intrinsics.X86;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>The instruction set the quantized kernels use for their int8 dot products.</summary>
internal enum IntegerDotPath
{
    /// <summary>Scalar integer loops: any CPU.</summary>
    Portable,

    /// <summary>AVX2: pmaddubsw (u8 × s8 → s16 pairs) then pmaddwd (→ s32).</summary>
    Avx2,

    /// <summary>AVX-VNNI: vpdpbusd / vpdpwssd, the multiply and the widening sum in one instruction.</summary>
    AvxVnni,

    /// <summary>
    /// AVX-512BW: 512-bit pmaddubsw / pmaddwd where a kernel has a 512-bit body (Q4_K: twice the weights per
    /// unpacking instruction); kernels without one run their AVX-VNNI body (or AVX2 where the CPU lacks it).
    /// </summary>
    Avx512,
}

/// <summary>Which <see cref="IntegerDotPath"/> this machine runs, decided once at start-up.</summary>
internal static class IntegerDotPaths
{
    public static IntegerDotPath Best { get; } =
        IsSupported(IntegerDotPath.Avx512) ? IntegerDotPath.Avx512
        : IsSupported(IntegerDotPath.AvxVnni) ? IntegerDotPath.AvxVnni
        : IsSupported(IntegerDotPath.Avx2) ? IntegerDotPath.Avx2
        : IntegerDotPath.Portable;

    public static bool IsSupported(IntegerDotPath path) => path switch
    {
        IntegerDotPath.Portable => true,
        IntegerDotPath.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        IntegerDotPath.AvxVnni => AvxVnni.IsSupported && Avx2.IsSupported && Fma.IsSupported,
        IntegerDotPath.Avx512 => Avx512BW.IsSupported && Avx2.IsSupported && Fma.IsSupported,
        _ => false,
    };

    /// <summary>The 256-bit body a kernel without a 512-bit one runs on <paramref name="path"/>.</summary>
    public static IntegerDotPath Narrow(IntegerDotPath path) =>
        path == IntegerDotPath.Avx512 ? (IsSupported(IntegerDotPath.AvxVnni) ? IntegerDotPath.AvxVnni : IntegerDotPath.Avx2) : path;
}
