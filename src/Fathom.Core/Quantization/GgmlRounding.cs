using System.Numerics;

namespace Fathom.Core;

/// <summary>The rounding GGML's k-quant encoders use, reproduced so that encoded bytes match GGML's.</summary>
internal static class GgmlRounding
{
    /// <summary>
    /// Round to nearest, ties to even, by adding 1.5·2²³ so the float adder does the rounding and the
    /// integer lands in the low mantissa bits (GGML's nearest_int; exact for |value| &lt; 2²²).
    /// </summary>
    public static int NearestInt(float value)
    {
        float shifted = value + 12582912f;
        return (BitConverter.SingleToInt32Bits(shifted) & 0x007FFFFF) - 0x00400000;
    }

    /// <summary><see cref="NearestInt(float)"/> in every lane (the same float addition, so the same integers).</summary>
    public static Vector<int> NearestInt(Vector<float> value)
    {
        var shifted = Vector.AsVectorInt32(value + new Vector<float>(12582912f));
        return (shifted & new Vector<int>(0x007FFFFF)) - new Vector<int>(0x00400000);
    }
}
