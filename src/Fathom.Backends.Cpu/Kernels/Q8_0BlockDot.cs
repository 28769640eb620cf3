using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// The integer dot product of one Q8_0 weight block with one block of quantized activations, as eight
/// int32 partial sums, for one instruction set. <see cref="Shared"/> is computed once per weight block
/// and reused for every activation row.
/// </summary>
internal interface IQ8_0BlockDot
{
    static abstract Vector256<int> Shared(Vector256<sbyte> w);

    static abstract Vector256<int> Dot(Vector256<int> shared, Vector256<byte> x, Vector256<sbyte> w);
}

/// <summary>
/// vpdpbusd multiplies unsigned by signed bytes, so activations come as q + 128: Σ(q + 128)·w − 128·Σw = Σq·w.
/// The correction −128·Σw depends on the weights alone, so it is worked out once per block and seeds every
/// row's accumulation: one instruction per activation row.
/// </summary>
internal readonly struct VnniQ8_0Dot : IQ8_0BlockDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Shared(Vector256<sbyte> w) =>
        Vector256<int>.Zero - AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Vector256.Create((byte)0x80), w);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<int> shared, Vector256<byte> x, Vector256<sbyte> w) =>
        AvxVnni.MultiplyWideningAndAdd(shared, x, w);
}

/// <summary>
/// pmaddubsw multiplies unsigned by signed bytes into saturating int16 pair sums, so the sign moves from the
/// activation to the weight (|q| · sign(q)·w; |q|, |w| ≤ 127 keep pairs below 32767); pmaddwd by ones widens.
/// </summary>
internal readonly struct Avx2Q8_0Dot : IQ8_0BlockDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Shared(Vector256<sbyte> w) => default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<int> shared, Vector256<byte> x, Vector256<sbyte> w)
    {
        var q = x.AsSByte();
        var pairs = Avx2.MultiplyAddAdjacent(Avx2.Abs(q), Avx2.Sign(w, q));
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }
}
