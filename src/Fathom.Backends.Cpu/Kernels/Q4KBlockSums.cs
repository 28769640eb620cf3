using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// The integer half of a Q4_K super-block product: for up to four activation rows, Σ_j scale_j·(q4_j · q8_j)
/// as eight int32 partial sums per row (their total is what counts: integer sums are exact in any order).
/// </summary>
internal unsafe interface IQ4KBlockSums
{
    /// <param name="q">The super-block's 128 quant bytes (sub-block 2g in the low nibbles of bytes 32g–32g+31, 2g+1 in the high).</param>
    /// <param name="x">Row 0's 256 levels of this super-block; row k's are k·<paramref name="cols"/> further.</param>
    /// <param name="packedScales">The eight 6-bit scales, one per byte.</param>
    static abstract void Sums<TRows>(byte* q, sbyte* x, nint cols, ulong packedScales, out Vector256<int> i0, out Vector256<int> i1, out Vector256<int> i2, out Vector256<int> i3)
        where TRows : struct, IQuantizedRowTile;
}

/// <summary>256-bit: one quant group of 32 bytes (two sub-blocks) per step; levels in natural order.</summary>
internal readonly unsafe struct NarrowQ4KSums<TSum> : IQ4KBlockSums
    where TSum : struct, IQ4KSubBlockSum
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Sums<TRows>(byte* q, sbyte* x, nint cols, ulong packedScales, out Vector256<int> i0, out Vector256<int> i1, out Vector256<int> i2, out Vector256<int> i3)
        where TRows : struct, IQuantizedRowTile
    {
        var nibble = Vector256.Create((byte)0x0F);
        var scales16 = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(packedScales).AsByte());
        var scales = Vector256.Create(scales16, scales16).AsByte();

        i0 = default;
        i1 = default;
        i2 = default;
        i3 = default;
        Group<TRows>(q, x, cols, scales, nibble, 0, ref i0, ref i1, ref i2, ref i3);
        Group<TRows>(q + 32, x + 64, cols, scales, nibble, 1, ref i0, ref i1, ref i2, ref i3);
        Group<TRows>(q + 64, x + 128, cols, scales, nibble, 2, ref i0, ref i1, ref i2, ref i3);
        Group<TRows>(q + 96, x + 192, cols, scales, nibble, 3, ref i0, ref i1, ref i2, ref i3);
    }

    /// <summary>Quant group g (32 bytes: sub-blocks 2g in the low nibbles, 2g + 1 in the high) against up to four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Group<TRows>(byte* q, sbyte* x, nint cols, Vector256<byte> scales, Vector256<byte> nibble, int g,
                                     ref Vector256<int> i0, ref Vector256<int> i1, ref Vector256<int> i2, ref Vector256<int> i3)
        where TRows : struct, IQuantizedRowTile
    {
        nint x2 = 2 * cols, x3 = 3 * cols;
        var bits = Vector256.Load(q);
        var low = bits & nibble;
        var high = Avx2.ShiftRightLogical(bits.AsUInt16(), 4).AsByte() & nibble;
        // pshufb patterns picking int16 lane 2g (low nibbles) or 2g + 1 (high) of the scales into every lane.
        var scaleLow = Avx2.Shuffle(scales, Vector256.Create((ushort)(0x0100 + (0x0404 * g))).AsByte()).AsInt16();
        var scaleHigh = Avx2.Shuffle(scales, Vector256.Create((ushort)(0x0302 + (0x0404 * g))).AsByte()).AsInt16();
        i0 = TSum.Add(i0, Avx2.MultiplyAddAdjacent(low, Vector256.Load(x)), scaleLow);
        i0 = TSum.Add(i0, Avx2.MultiplyAddAdjacent(high, Vector256.Load(x + 32)), scaleHigh);
        if (TRows.Count > 1)
        {
            i1 = TSum.Add(i1, Avx2.MultiplyAddAdjacent(low, Vector256.Load(x + cols)), scaleLow);
            i1 = TSum.Add(i1, Avx2.MultiplyAddAdjacent(high, Vector256.Load(x + cols + 32)), scaleHigh);
        }

        if (TRows.Count > 2)
        {
            i2 = TSum.Add(i2, Avx2.MultiplyAddAdjacent(low, Vector256.Load(x + x2)), scaleLow);
            i2 = TSum.Add(i2, Avx2.MultiplyAddAdjacent(high, Vector256.Load(x + x2 + 32)), scaleHigh);
        }

        if (TRows.Count > 3)
        {
            i3 = TSum.Add(i3, Avx2.MultiplyAddAdjacent(low, Vector256.Load(x + x3)), scaleLow);
            i3 = TSum.Add(i3, Avx2.MultiplyAddAdjacent(high, Vector256.Load(x + x3 + 32)), scaleHigh);
        }
    }
}

/// <summary>
/// 512-bit: two quant groups (64 bytes, four sub-blocks) per step, so each unpacking instruction serves
/// twice the weights. The low nibbles of bytes 0–31 are sub-block 4p, of bytes 32–63 sub-block 4p+2; the
/// high nibbles 4p+1 and 4p+3. The activations come paired (<see cref="Q8KActivations"/>) so that one
/// 64-byte load lines up with each. The scale multiply is pmaddwd + add (AVX-512 VNNI is not exposed).
/// </summary>
internal readonly unsafe struct WideQ4KSums : IQ4KBlockSums
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Sums<TRows>(byte* q, sbyte* x, nint cols, ulong packedScales, out Vector256<int> i0, out Vector256<int> i1, out Vector256<int> i2, out Vector256<int> i3)
        where TRows : struct, IQuantizedRowTile
    {
        // The scales as int16, repeated in each 128-bit lane (pshufb picks within lanes).
        var scales = Avx512BW.ConvertToVector512UInt16(Vector256.Create(packedScales).AsByte()).AsByte();
        Vector512<int> w0 = default, w1 = default, w2 = default, w3 = default;
        Step<TRows>(q, x, cols, scales, Pick(0, 2), Pick(1, 3), ref w0, ref w1, ref w2, ref w3);
        Step<TRows>(q + 64, x + 128, cols, scales, Pick(4, 6), Pick(5, 7), ref w0, ref w1, ref w2, ref w3);
        i0 = w0.GetLower() + w0.GetUpper();
        i1 = w1.GetLower() + w1.GetUpper();
        i2 = w2.GetLower() + w2.GetUpper();
        i3 = w3.GetLower() + w3.GetUpper();
    }

    /// <summary>A pshufb pattern giving int16 scale a to bytes 0–31 and scale b to bytes 32–63.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Pick(int a, int b) =>
        Vector512.Create(Vector256.Create((ushort)(0x0100 + (0x0202 * a))), Vector256.Create((ushort)(0x0100 + (0x0202 * b)))).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step<TRows>(byte* q, sbyte* x, nint cols, Vector512<byte> scales, Vector512<byte> pickLow, Vector512<byte> pickHigh, ref Vector512<int> w0, ref Vector512<int> w1, ref Vector512<int> w2, ref Vector512<int> w3)
        where TRows : struct, IQuantizedRowTile
    {
        var nibble = Vector512.Create((byte)0x0F);
        var bits = Vector512.Load(q);
        var low = bits & nibble;
        var high = Avx512BW.ShiftRightLogical(bits.AsUInt16(), 4).AsByte() & nibble;
        var scaleLow = Avx512BW.Shuffle(scales, pickLow).AsInt16();
        var scaleHigh = Avx512BW.Shuffle(scales, pickHigh).AsInt16();
        w0 += Scaled(low, high, x, scaleLow, scaleHigh);
        if (TRows.Count > 1)
        {
            w1 += Scaled(low, high, x + cols, scaleLow, scaleHigh);
        }

        if (TRows.Count > 2)
        {
            w2 += Scaled(low, high, x + (2 * cols), scaleLow, scaleHigh);
        }

        if (TRows.Count > 3)
        {
            w3 += Scaled(low, high, x + (3 * cols), scaleLow, scaleHigh);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Scaled(Vector512<byte> low, Vector512<byte> high, sbyte* x, Vector512<short> scaleLow, Vector512<short> scaleHigh) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(low, Vector512.Load(x)), scaleLow)
        + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(high, Vector512.Load(x + 64)), scaleHigh);
}
