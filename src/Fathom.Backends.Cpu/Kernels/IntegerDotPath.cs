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
}

/// <summary>Which <see cref="IntegerDotPath"/> this machine runs, decided once at start-up.</summary>
internal static class IntegerDotPaths
{
    public static IntegerDotPath Best { get; } =
        IsSupported(IntegerDotPath.AvxVnni) ? IntegerDotPath.AvxVnni
        : IsSupported(IntegerDotPath.Avx2) ? IntegerDotPath.Avx2
        : IntegerDotPath.Portable;

    public static bool IsSupported(IntegerDotPath path) => path switch
    {
        IntegerDotPath.Portable => true,
        IntegerDotPath.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        IntegerDotPath.AvxVnni => AvxVnni.IsSupported && Avx2.IsSupported && Fma.IsSupported,
        _ => false,
    };
}
