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
        for (int br = 0; br < scaleRows; br++)
        {
            int r0 = br * blockRows, bandRows = Math.Min(rows, r0 + blockRows) - r0;
            QuantizeBand(
                weight.Slice(r0 * cols, bandRows * cols),
                bandRows,
                cols,
                blockCols,
                codes.AsSpan((int)((long)r0 * cols), bandRows * cols),
                scales.AsSpan(br * scaleCols, scaleCols));
        }

        return (codes, scales);
    }

    /// <summary>
    /// One band of rows that share their block scales (one block row): <paramref name="band"/> [bandRows, cols]
    /// into <paramref name="codes"/> [bandRows, cols] and <paramref name="scales"/> [ceil(cols / blockCols)],
    /// each scale the block's largest magnitude over 448 (1 for an all-zero block).
    /// </summary>
    public static void QuantizeBand(ReadOnlySpan<float> band, int bandRows, int cols, int blockCols, Span<byte> codes, Span<float> scales)
    {
        int scaleCols = (cols + blockCols - 1) / blockCols;
        if (band.Length < bandRows * cols || codes.Length < bandRows * cols || scales.Length < scaleCols)
        {
            throw new ArgumentException($"a band of [{bandRows}, {cols}] in blocks of {blockCols} columns needs {bandRows * cols} values and codes and {scaleCols} scales");
        }

        for (int bc = 0; bc < scaleCols; bc++)
        {
            int c0 = bc * blockCols, c1 = Math.Min(cols, c0 + blockCols);
            float amax = 0;
            for (int r = 0; r < bandRows; r++)
            {
                foreach (float v in band.Slice((r * cols) + c0, c1 - c0))
                {
                    amax = MathF.Max(amax, MathF.Abs(v));
                }
            }

            float scale = amax > 0 ? amax / Float8E4M3.MaxValue : 1f;
            scales[bc] = scale;
            for (int r = 0; r < bandRows; r++)
            {
                int at = (r * cols) + c0;
                for (int c = 0; c < c1 - c0; c++)
                {
                    codes[at + c] = Float8E4M3.FromSingle(band[at + c] / scale);
                }
            }
        }
    }
}
