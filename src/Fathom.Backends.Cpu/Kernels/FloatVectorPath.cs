using Fathom.Backends.Cpu.Kernels.Lanes;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>The instruction set the dense (float-widening) kernels use.</summary>
internal enum FloatVectorPath
{
    /// <summary>No SIMD kernels: dequantize a row, then <c>TensorPrimitives.Dot</c> (any CPU).</summary>
    Scalar,

    /// <summary>Four lanes through the cross-platform <c>Vector128</c> API (SSE, NEON).</summary>
    Portable,

    /// <summary>AVX2 + FMA: eight lanes.</summary>
    Avx2,

    /// <summary>AVX-512 (F + BW): sixteen lanes.</summary>
    Avx512,
}

/// <summary>Which <see cref="FloatVectorPath"/> this machine runs, decided once at start-up.</summary>
internal static class FloatVectorPaths
{
    public static FloatVectorPath Best { get; } =
        IsSupported(FloatVectorPath.Avx512) ? FloatVectorPath.Avx512
        : IsSupported(FloatVectorPath.Avx2) ? FloatVectorPath.Avx2
        : IsSupported(FloatVectorPath.Portable) ? FloatVectorPath.Portable
        : FloatVectorPath.Scalar;

    public static bool IsSupported(FloatVectorPath path) => path switch
    {
        FloatVectorPath.Scalar => true,
        FloatVectorPath.Portable => Lanes128.IsSupported,
        FloatVectorPath.Avx2 => Lanes256.IsSupported,
        FloatVectorPath.Avx512 => Lanes512.IsSupported,
        _ => false,
    };
}
