namespace Fathom.Core;

/// <summary>
/// Round-to-nearest FP8 e4m3 with one float32 scale per block (DeepSeek's release layout: 128x128 blocks,
/// partial blocks at the edges, <c>weight_scale_inv</c> holding the factor that dequantizes).
/// </summary>
public static class Fp8BlockQuantizer
{
    /// <returns>e4m3 codes [rows, cols] and scales [ceil(rows / blockRows), ceil(cols / blockCols)].</returns>
    public static (byte[] Codes, float[] Scales) Quantize(ReadOnlySpan<float> weight, int rows, int cols, int blockRows = 128, int blockCols = 128)
    {
        int scaleRows = (rows + blockRows - 1) / blockRows, scaleCols = (cols + blockCols - 1) / blockCols;
        var codes = new byte[(long)rows * cols];
        var scales = new float[scaleRows * scaleCols];
        var encode = EncodeTable.Value;
        for (int br = 0; br < scaleRows; br++)
        {
            for (int bc = 0; bc < scaleCols; bc++)
            {
                int r0 = br * blockRows, r1 = Math.Min(rows, r0 + blockRows);
                int c0 = bc * blockCols, c1 = Math.Min(cols, c0 + blockCols);
                float amax = 0;
                for (int r = r0; r < r1; r++)
                {
                    for (int c = c0; c < c1; c++)
                    {
                        amax = MathF.Max(amax, MathF.Abs(weight[(r * cols) + c]));
                    }
                }

                float scale = amax > 0 ? amax / Float8E4M3.MaxValue : 1f;
                scales[(br * scaleCols) + bc] = scale;
                for (int r = r0; r < r1; r++)
                {
                    for (int c = c0; c < c1; c++)
                    {
                        codes[((long)r * cols) + c] = Encode(weight[(r * cols) + c] / scale, encode);
                    }
                }
            }
        }

        return (codes, scales);
    }

    // Sorted positive e4m3 values with their codes, for a binary search instead of a scan per weight.
    private static readonly Lazy<(float[] Values, byte[] Codes)> EncodeTable = new(() =>
    {
        var values = new List<(float, byte)>();
        for (int code = 0; code < 0x7F; code++)
        {
            values.Add((Float8E4M3.ToSingle((byte)code), (byte)code));
        }

        values.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return (values.Select(v => v.Item1).ToArray(), values.Select(v => v.Item2).ToArray());
    });

    /// <summary>Nearest e4m3 value, ties to the even code (as <see cref="Float8E4M3.FromSingle"/>), saturating at ±448.</summary>
    private static byte Encode(float value, (float[] Values, byte[] Codes) table)
    {
        if (float.IsNaN(value))
        {
            return 0x7F;
        }

        byte sign = value < 0 ? (byte)0x80 : (byte)0;
        float m = MathF.Min(MathF.Abs(value), Float8E4M3.MaxValue);
        var values = table.Values;
        int i = Array.BinarySearch(values, m);
        if (i >= 0)
        {
            return (byte)(sign | table.Codes[i]);
        }

        int hi = ~i, lo = hi - 1;
        if (hi >= values.Length)
        {
            return (byte)(sign | table.Codes[lo]);
        }

        float dl = m - values[lo], dh = values[hi] - m;
        byte code = dl < dh ? table.Codes[lo] : dh < dl ? table.Codes[hi] : ((table.Codes[lo] & 1) == 0 ? table.Codes[lo] : table.Codes[hi]);
        return (byte)(sign | code);
    }
}
