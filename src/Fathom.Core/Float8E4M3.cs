namespace Fathom.Core;

/// <summary>
/// float8 e4m3fn (sign, 4 exponent bits with bias 7, 3 mantissa bits; no infinities; S.1111.111 is NaN;
/// largest finite value 448), the format of DeepSeek's FP8 weights.
/// </summary>
public static class Float8E4M3
{
    public const float MaxValue = 448f;

    private static readonly float[] Table = BuildTable();

    /// <summary>All 256 decoded values, indexed by the byte.</summary>
    public static ReadOnlySpan<float> DecodeTable => Table;

    public static float ToSingle(byte bits) => Table[bits];

    /// <summary>Decodes one byte from first principles (the table is built from this).</summary>
    public static float Decode(byte bits)
    {
        int sign = bits >> 7;
        int exponent = (bits >> 3) & 0xF;
        int mantissa = bits & 0x7;
        float magnitude;
        if (exponent == 0xF && mantissa == 0x7)
        {
            return float.NaN;
        }

        if (exponent == 0)
        {
            magnitude = mantissa / 8f * MathF.Pow(2, -6);
        }
        else
        {
            magnitude = (1 + (mantissa / 8f)) * MathF.Pow(2, exponent - 7);
        }

        return sign == 1 ? -magnitude : magnitude;
    }

    /// <summary>
    /// Rounds a float to the nearest e4m3fn value (ties to the even code), saturating at ±448: the float's
    /// mantissa rounded to three bits in place, or, below the smallest normal (2^-6), the value in steps of
    /// the subnormal spacing 2^-9.
    /// </summary>
    public static byte FromSingle(float value)
    {
        if (float.IsNaN(value))
        {
            return 0x7F;
        }

        byte sign = (byte)((BitConverter.SingleToUInt32Bits(value) >> 24) & 0x80);
        float magnitude = MathF.Min(MathF.Abs(value), MaxValue);
        if (magnitude < SmallestNormal)
        {
            return (byte)(sign | (int)MathF.Round(magnitude * 512f, MidpointRounding.ToEven));
        }

        uint bits = BitConverter.SingleToUInt32Bits(magnitude);
        bits += 0x7FFFFu + ((bits >> 20) & 1u);
        int exponent = (int)(bits >> 23) - 127 + 7;
        return (byte)(sign | (exponent << 3) | (int)((bits >> 20) & 7u));
    }

    /// <summary>2^-6, the smallest normal e4m3 magnitude.</summary>
    private const float SmallestNormal = 0.015625f;

    private static float[] BuildTable()
    {
        var table = new float[256];
        for (int i = 0; i < 256; i++)
        {
            table[i] = Decode((byte)i);
        }

        return table;
    }
}
