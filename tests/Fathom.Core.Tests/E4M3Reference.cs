namespace Fathom.Core.Tests;

/// <summary>
/// float8 e4m3fn decoded straight from the rule in docs/deepseek-architecture.md §3, in double precision:
/// bits s eeee mmm, bias 7; e == 0: (-1)^s (m/8) 2^-6; e == 15 and m == 7: NaN; else (-1)^s (1 + m/8) 2^(e-7).
/// </summary>
internal static class E4M3Reference
{
    public static double Decode(byte code)
    {
        int s = code >> 7, e = (code >> 3) & 0xF, m = code & 0x7;
        if (e == 15 && m == 7)
        {
            return double.NaN;
        }

        double magnitude = e == 0 ? m / 8.0 * Math.Pow(2, -6) : (1 + (m / 8.0)) * Math.Pow(2, e - 7);
        return s == 1 ? -magnitude : magnitude;
    }

    public static bool IsNaNCode(byte code) => (code & 0x7F) == 0x7F;

    /// <summary>The nearest finite e4m3fn code by search over every value (ties to the even code), saturating at ±448.</summary>
    public static byte Nearest(float value)
    {
        if (float.IsNaN(value))
        {
            return 0x7F;
        }

        byte sign = float.IsNegative(value) ? (byte)0x80 : (byte)0;
        double magnitude = Math.Min(Math.Abs((double)value), 448.0);
        int best = 0;
        double bestError = double.PositiveInfinity;
        for (int code = 0; code < 0x7F; code++)
        {
            double error = Math.Abs(Decode((byte)code) - magnitude);
            if (error < bestError || (error == bestError && (code & 1) == 0))
            {
                best = code;
                bestError = error;
            }
        }

        return (byte)(sign | best);
    }
}
