using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fathom.Backends.Cpu.Kernels.Lanes;

/// <summary>AVX2 with FMA: eight float32 lanes.</summary>
internal readonly unsafe struct Lanes256 : IFloatLanes<Lanes256>
{
    private readonly Vector256<float> _v;

    private Lanes256(Vector256<float> v) => _v = v;

    public static int Count => 8;

    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 Load(float* p) => new(Vector256.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lanes256 value, float* p) => value._v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 Create(float value) => new(Vector256.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 MultiplyAdd(Lanes256 a, Lanes256 b, Lanes256 c) => new(Fma.MultiplyAdd(a._v, b._v, c._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 Multiply(Lanes256 a, Lanes256 b) => new(a._v * b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Lanes256 value) => Vector256.Sum(value._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 LoadBf16(ushort* p) =>
        new(Vector256.ShiftLeft(Avx2.ConvertToVector256Int32(p), 16).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 LoadFp8(byte* p)
    {
        var v = Avx2.ConvertToVector256Int32((sbyte*)p);
        return new((Vector256.ShiftLeft(v, 20) & Vector256.Create(Fp8Lanes.SignExponentMantissa)).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 LoadInt8(byte* p) => new(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32((sbyte*)p)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256 LoadNibbles(byte* p, bool high)
    {
        var v = Avx2.ConvertToVector256Int32(p);
        v = high ? Vector256.ShiftRightLogical(v, 4) : v & Vector256.Create(15);
        return new(Avx.ConvertToVector256Single(v));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(void* p) => Sse.Prefetch0(p);
}
