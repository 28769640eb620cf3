using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// e4m3fn → float32 in vector registers, exactly. The byte's exponent and mantissa bits placed at
/// float32 bits 20-26 (and its sign at 31) make a float32 equal to the value times 2^-120 — subnormals
/// become float32 subnormals — so multiplying by scale · 2^120 finishes the conversion and applies the
/// block scale in one step.
/// </summary>
internal static unsafe class Fp8Lanes
{
    public const float TwoPow120 = 1.329228e36f;

    /// <summary>16 e4m3 bytes as float32 values times 2^-120.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Widen16(byte* p)
    {
        // Sign-extended, the sign fills bits 7 and up; shifted by 20, exponent and mantissa land in
        // bits 20-26 and copies of the sign in 27-31, of which the mask keeps bit 31.
        var v = Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)p));
        return (Vector512.ShiftLeft(v, 20) & Vector512.Create(unchecked((int)0x87F00000))).AsSingle();
    }
}
