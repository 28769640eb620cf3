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

    /// <summary>
    /// A perfect binary tree over the lanes in order: pairs, then fours, eights, sixteen. Computed in the
    /// register (each step adds a shuffled copy, so every lane of a group holds the group's sum; addition
    /// is commutative, so the bits are those of the scalar tree) in eight instructions instead of some forty.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Lanes512 value)
    {
        var v = value._v;
        v += Avx512F.Permute4x32(v, 0xB1);
        v += Avx512F.Permute4x32(v, 0x4E);
        v += Avx512F.Shuffle4x128(v, v, 0xB1);
        return (v.GetLower() + v.GetUpper()).ToScalar();
    }

    /// <summary>
    /// The 16 sums reduced together with the same tree as <see cref="Sum"/>: pair sums of two registers
    /// at a time (in-lane shuffles), then sums of four, then the 128-bit quarters across registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Sum16(float* acc, float* y0, float* y1, float* y2, float* y3)
    {
        // Per 128-bit quarter q of row r's result: [acc(r,0), acc(r,1), acc(r,2), acc(r,3)] sums of lanes 4q..4q+3.
        var r0 = Fours(acc);
        var r1 = Fours(acc + 64);
        var r2 = Fours(acc + 128);
        var r3 = Fours(acc + 192);
        // Quarters 0+1 and 2+3 of two rows, then of those: quarter r is row r's four totals.
        var total = Halves(Halves(r0, r1), Halves(r2, r3));
        Avx512F.ExtractVector128(total, 0).Store(y0);
        Avx512F.ExtractVector128(total, 1).Store(y1);
        Avx512F.ExtractVector128(total, 2).Store(y2);
        Avx512F.ExtractVector128(total, 3).Store(y3);
    }

    /// <summary>Per quarter: [a0+a1, a2+a3, b0+b1, b2+b3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pairs(Vector512<float> a, Vector512<float> b) =>
        Avx512F.Shuffle(a, b, 0x88) + Avx512F.Shuffle(a, b, 0xDD);

    /// <summary>Four registers at p: per quarter, each register's sum of its four lanes there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fours(float* p)
    {
        var c = Pairs(Vector512.Load(p), Vector512.Load(p + 16));
        var d = Pairs(Vector512.Load(p + 32), Vector512.Load(p + 48));
        return Avx512F.Shuffle(c, d, 0x88) + Avx512F.Shuffle(c, d, 0xDD);
    }

    /// <summary>[x.q0 + x.q1, x.q2 + x.q3, y.q0 + y.q1, y.q2 + y.q3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Halves(Vector512<float> x, Vector512<float> y) =>
        Avx512F.Shuffle4x128(x, y, 0x88) + Avx512F.Shuffle4x128(x, y, 0xDD);

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
    public static Lanes512 LoadInt8(byte* p) => new(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)p))));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512 LoadNibbles(byte* p, bool high)
    {
        var v = Avx512F.ConvertToVector512Int32(Vector128.Load(p));
        v = high ? Vector512.ShiftRightLogical(v, 4) : v & Vector512.Create(15);
        return new(Avx512F.ConvertToVector512Single(v));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(void* p) => Sse.Prefetch0(p);
}
