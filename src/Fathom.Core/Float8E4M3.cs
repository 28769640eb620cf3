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

    /// <summary>Rounds a float to the nearest e4m3fn value (ties to even), saturating at ±448.</summary>
    public static byte FromSingle(float value)
    {
        if (float.IsNaN(value))
        {
            return 0x7F;
        }

        byte sign = value < 0 || (value == 0 && float.IsNegative(value)) ? (byte)0x80 : (byte)0;
        float magnitude = MathF.Min(MathF.Abs(value), MaxValue);
        int best = 0;
        float bestError = float.PositiveInfinity;
        for (int code = 0; code < 0x7F; code++)
        {
            float error = MathF.Abs(Table[code] - magnitude);
            if (error < bestError || (error == bestError && (code & 1) == 0))
            {
                best = code;
                bestError = error;
            }
        }

        return (byte)(sign | best);
    }

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
