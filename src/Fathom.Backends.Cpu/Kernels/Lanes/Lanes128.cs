using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fathom.Backends.Cpu.Kernels.Lanes;

/// <summary>
/// The portable path: four float32 lanes through the cross-platform <see cref="Vector128"/> API (SSE on
/// x86, NEON on Arm). Multiply-adds fuse where the hardware can and are a multiply and an add elsewhere.
/// </summary>
internal readonly unsafe struct Lanes128 : IFloatLanes<Lanes128>
{
    private readonly Vector128<float> _v;

    private Lanes128(Vector128<float> v) => _v = v;

    public static int Count => 4;

    public static bool IsSupported => Vector128.IsHardwareAccelerated;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes128 Load(float* p) => new(Vector128.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lanes128 value, float* p) => value._v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes128 Create(float value) => new(Vector128.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes128 MultiplyAdd(Lanes128 a, Lanes128 b, Lanes128 c) => new(Vector128.MultiplyAddEstimate(a._v, b._v, c._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes128 Multiply(Lanes128 a, Lanes128 b) => new(a._v * b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Lanes128 value) => Vector128.Sum(value._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes128 LoadBf16(ushort* p)
    {
        // Exactly four values (8 bytes), so the last row of a buffer is never read past its end.
        var v = Vector128.CreateScalarUnsafe(*(ulong*)p).AsUInt16();
        return new(Vector128.ShiftLeft(Vector128.WidenLower(v), 16).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes128 LoadFp8(byte* p)
    {
        var v = Vector128.CreateScalarUnsafe(*(int*)p).AsSByte();
        var widened = Vector128.WidenLower(Vector128.WidenLower(v));
        return new((Vector128.ShiftLeft(widened, 20) & Vector128.Create(Fp8Lanes.SignExponentMantissa)).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes128 LoadInt8(byte* p)
    {
        var v = Vector128.CreateScalarUnsafe(*(int*)p).AsSByte();
        return new(Vector128.ConvertToSingle(Vector128.WidenLower(Vector128.WidenLower(v))));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes128 LoadNibbles(byte* p, bool high)
    {
        var v = Vector128.WidenLower(Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(uint*)p).AsByte())).AsInt32();
        v = high ? Vector128.ShiftRightLogical(v, 4) : v & Vector128.Create(15);
        return new(Vector128.ConvertToSingle(v));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(void* p)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(p);
        }
    }
}
