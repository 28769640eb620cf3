namespace Fathom.Core;

/// <summary>The integer formats a linear weight can be quantized to.</summary>
public enum IntegerScheme
{
    /// <summary>Symmetric int8, one float32 scale per output channel (row): SGLang's w8a8_int8 layout.</summary>
    Int8Channel,

    /// <summary>Asymmetric 4-bit codes 0–15 with an f16 scale and a zero point per group of input columns: AWQ's layout.</summary>
    Int4Group,
}

/// <summary>
/// One quantization grid: how a group of weights gets its scale and zero point, and how a weight maps to
/// a code and back. Shared by round-to-nearest, AWQ and GPTQ so all three produce exactly what the
/// checkpoint stores (INT4 scales are rounded to f16 before use, as AWQ stores them).
/// </summary>
public readonly record struct IntegerGrid(IntegerScheme Scheme, int GroupSize)
{
    /// <summary>Columns that share one scale in a row of <paramref name="cols"/>.</summary>
    public int GroupFor(int cols) => Scheme == IntegerScheme.Int8Channel ? cols : GroupSize;

    public int MinCode => Scheme == IntegerScheme.Int8Channel ? -127 : 0;

    public int MaxCode => Scheme == IntegerScheme.Int8Channel ? 127 : 15;

    /// <summary>Scale and zero point of a group of weights (zero is 0 for the symmetric scheme).</summary>
    public (float Scale, float Zero) Fit(ReadOnlySpan<float> w)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float v in w)
        {
            min = MathF.Min(min, v);
            max = MathF.Max(max, v);
        }

        if (Scheme == IntegerScheme.Int8Channel)
        {
            float amax = MathF.Max(MathF.Abs(min), MathF.Abs(max));
            return (amax > 0 ? amax / 127f : 1f, 0f);
        }

        // AWQ's asymmetric grid: the range [min, max] over 15 steps, zero point rounded and clamped to a code.
        float scale = (float)(Half)MathF.Max((max - min) / 15f, 1e-5f);
        float zero = Math.Clamp(MathF.Round(-min / scale, MidpointRounding.ToEven), 0f, 15f);
        return (scale, zero);
    }

    /// <summary>The code of one weight.</summary>
    public int Encode(float w, float scale, float zero) =>
        (int)Math.Clamp(MathF.Round(w / scale, MidpointRounding.ToEven) + zero, MinCode, MaxCode);

    public static float Decode(int code, float scale, float zero) => (code - zero) * scale;

    /// <summary>Round-to-nearest of one row: fits every group, writes codes and the dequantized row.</summary>
    public void QuantizeRow(ReadOnlySpan<float> row, Span<int> codes, Span<float> scales, Span<float> zeros, Span<float> dequantized)
    {
        int group = GroupFor(row.Length);
        for (int g = 0; g * group < row.Length; g++)
        {
            var part = row.Slice(g * group, group);
            var (s, z) = Fit(part);
            scales[g] = s;
            zeros[g] = z;
            for (int c = 0; c < group; c++)
            {
                int q = Encode(part[c], s, z);
                codes[(g * group) + c] = q;
                dequantized[(g * group) + c] = Decode(q, s, z);
            }
        }
    }

    /// <summary>Checks that the grid applies to a [rows, cols] weight; the message names the tensor.</summary>
    public string? Problem(string tensor, int rows, int cols)
    {
        if (Scheme == IntegerScheme.Int4Group)
        {
            if (GroupSize <= 0 || GroupSize % 2 != 0)
            {
                return $"group size {GroupSize} must be a positive even number";
            }

            if (cols % GroupSize != 0)
            {
                return $"group size {GroupSize} does not divide the {cols} input features of '{tensor}' [{rows}, {cols}]";
            }

            if (rows % 8 != 0)
            {
                return $"'{tensor}' has {rows} output features; AWQ packs them eight per int32, so they must be a multiple of 8";
            }
        }

        return null;
    }
}
