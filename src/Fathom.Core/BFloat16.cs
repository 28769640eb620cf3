using System.Runtime.CompilerServices;

namespace Fathom.Core;

/// <summary>bfloat16 bit conversions: the upper 16 bits of an IEEE float32.</summary>
public static class BFloat16
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Rounds to nearest even, as PyTorch does; NaN stays NaN.</summary>
    public static ushort FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }

        uint lsb = (bits >> 16) & 1;
        bits += 0x7FFF + lsb;
        return (ushort)(bits >> 16);
    }
}
