using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>Lane arithmetic the quantized kernels share: horizontal sums and f16 block scales as float32.</summary>
internal static class QuantizedLanes
{
    private const float TwoPow112 = 5.192297e33f;

    /// <summary>The sum of a vector's eight lanes.</summary>
    public static float Sum(Vector256<float> v)
    {
        var s = v.GetLower() + v.GetUpper();
        s += Vector128.Shuffle(s, Vector128.Create(2, 3, 0, 1));
        s += Vector128.Shuffle(s, Vector128.Create(1, 0, 3, 2));
        return s.ToScalar();
    }

    /// <summary>
    /// An f16 scale as float32: the 15 magnitude bits moved into float32's exponent and mantissa fields give
    /// the value times 2^-112 (f16 subnormals become float32 subnormals), so one multiply finishes it. Exact
    /// for every finite f16; a few integer operations instead of the general conversion.
    /// </summary>
    public static float HalfToSingle(ushort bits)
    {
        float magnitude = BitConverter.UInt32BitsToSingle((bits & 0x7FFFu) << 13) * TwoPow112;
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(magnitude) | ((bits & 0x8000u) << 16));
    }

    /// <summary>
    /// The f16 in the upper half of each lane as float32, the same way in vector registers: an arithmetic
    /// shift by 3 puts exponent and mantissa where float32 keeps them and copies the sign into the three
    /// bits above, which the mask clears again (with whatever the lower half shifted into the low 13 bits).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> UpperHalvesToSingle(Vector256<int> lanes) =>
        (Vector256.ShiftRightArithmetic(lanes, 3) & Vector256.Create(unchecked((int)0x8FFFE000))).AsSingle() * Vector256.Create(TwoPow112);
}
