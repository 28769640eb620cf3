using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fathom.Backends.Cpu.Kernels.Lanes;

/// <summary>AVX-512: sixteen float32 lanes.</summary>
internal readonly unsafe struct Lanes512 : IFloatLanes<Lanes512>
{
    private readonly Vector512<float> _v;

    private Lanes512(Vector512<float> v) => _v = v;

    public static int Count => 16;

    public static bool IsSupported => Avx512F.IsSupported && Avx512BW.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 Load(float* p) => new(Vector512.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lanes512 value, float* p) => value._v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 Create(float value) => new(Vector512.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 MultiplyAdd(Lanes512 a, Lanes512 b, Lanes512 c) => new(Vector512.FusedMultiplyAdd(a._v, b._v, c._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 Multiply(Lanes512 a, Lanes512 b) => new(a._v * b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Lanes512 value) => Vector512.Sum(value._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 LoadBf16(ushort* p) =>
        new(Vector512.ShiftLeft(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)), 16).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 LoadFp8(byte* p)
    {
        // Sign-extended, the sign fills bits 7 and up; shifted by 20, exponent and mantissa land in
        // bits 20-26 and copies of the sign in 27-31, of which the mask keeps bit 31.
        var v = Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)p));
        return new((Vector512.ShiftLeft(v, 20) & Vector512.Create(Fp8Lanes.SignExponentMantissa)).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(void* p) => Sse.Prefetch0(p);
}
