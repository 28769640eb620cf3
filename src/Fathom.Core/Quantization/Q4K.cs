using System.Numerics;
using System.Runtime.Intrinsics;

namespace Fathom.Core;

/// <summary>
/// GGML Q4_K super-blocks of 256 weights (144 bytes): f16 d, f16 dmin, 12 bytes holding eight 6-bit scales and
/// eight 6-bit mins, then 128 bytes of 4-bit levels. Sub-block j (32 weights) decodes as
/// <c>d·scale_j·q − dmin·min_j</c>. Byte i of the levels holds weight i of the 64-weight group in its low
/// nibble and weight i + 32 in its high nibble. Encoding reproduces GGML's quantize_row_q4_K_ref bit for bit.
/// </summary>
public static unsafe class Q4K
{
    public const int BlockElements = 256;
    public const int BlockBytes = 144;

    /// <summary>Offset of the 12 packed scale/min bytes.</summary>
    public const int ScalesOffset = 4;

    /// <summary>Offset of the 128 bytes of nibbles.</summary>
    public const int QuantsOffset = 16;

    /// <summary>
    /// Scale and min of sub-block j from the 12 packed bytes: sub-blocks 0–3 keep theirs in the low 6 bits of
    /// bytes j and j + 4; sub-blocks 4–7 keep their low 4 bits in the nibbles of byte j + 4 and their top 2 bits
    /// in the spare top bits of bytes j − 4 (scale) and j (min).
    /// </summary>
    public static void GetScaleMin(int j, byte* scales, out byte scale, out byte min)
    {
        if (j < 4)
        {
            scale = (byte)(scales[j] & 63);
            min = (byte)(scales[j + 4] & 63);
        }
        else
        {
            scale = (byte)((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
            min = (byte)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
        }
    }

    /// <summary>Packs eight 6-bit scales and mins (each ≤ 63) into the 12-byte layout <see cref="GetScaleMin"/> reads.</summary>
    public static void PackScaleMins(ReadOnlySpan<byte> scales, ReadOnlySpan<byte> mins, byte* packed)
    {
        for (int j = 0; j < 4; j++)
        {
            packed[j] = scales[j];
            packed[j + 4] = mins[j];
        }

        for (int j = 4; j < 8; j++)
        {
            packed[j + 4] = (byte)((scales[j] & 0xF) | ((mins[j] & 0xF) << 4));
            packed[j - 4] |= (byte)((scales[j] >> 4) << 6);
            packed[j] |= (byte)((mins[j] >> 4) << 6);
        }
    }

    public static void DequantizeBlock(byte* block, Span<float> destination)
    {
        float d = (float)*(Half*)block;
        float dmin = (float)*(Half*)(block + 2);
        byte* q = block + QuantsOffset;
        fixed (float* y = destination[..BlockElements])
        {
            for (int group = 0; group < 4; group++, q += 32)
            {
                GetScaleMin(2 * group, block + ScalesOffset, out byte sc, out byte m);
                float d1 = d * sc, m1 = dmin * m;
                GetScaleMin((2 * group) + 1, block + ScalesOffset, out sc, out m);
                float d2 = d * sc, m2 = dmin * m;
                DecodeNibbles(q, d1, m1, d2, m2, y + (64 * group));
            }
        }
    }

    /// <summary>Encodes 256 floats into one 144-byte super-block.</summary>
    public static void QuantizeBlock(ReadOnlySpan<float> x, byte* block)
    {
        x = x[..BlockElements];
        Span<byte> levels = stackalloc byte[BlockElements];
        Span<float> weights = stackalloc float[BlockElements];
        Span<float> scales = stackalloc float[8];
        Span<float> mins = stackalloc float[8];
        for (int j = 0; j < 8; j++)
        {
            var xs = x.Slice(32 * j, 32);
            float sumX2 = 0;
            for (int l = 0; l < 32; l++)
            {
                sumX2 += xs[l] * xs[l];
            }

            // Weight each value by the block's RMS plus its own magnitude: large weights matter more.
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++)
            {
                weights[(32 * j) + l] = avX + MathF.Abs(xs[l]);
            }
        }

        // The eight sub-blocks' searches side by side.
        AffineQuantSearch.Search(x, weights, 32, 15, levels, -1f, 0.1f, 20, scales, mins);
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            if (scales[j] > maxScale)
            {
                maxScale = scales[j];
            }

            if (mins[j] > maxMin)
            {
                maxMin = mins[j];
            }
        }

        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        Span<byte> ls = stackalloc byte[8];
        Span<byte> lm = stackalloc byte[8];
        for (int j = 0; j < 8; j++)
        {
            // GGML narrows to uint8 before clamping, so a (never expected) negative wraps and clamps to 63.
            ls[j] = Math.Min((byte)63, unchecked((byte)GgmlRounding.NearestInt(invScale * scales[j])));
            lm[j] = Math.Min((byte)63, unchecked((byte)GgmlRounding.NearestInt(invMin * mins[j])));
        }

        PackScaleMins(ls, lm, block + ScalesOffset);
        *(Half*)block = (Half)(maxScale / 63f);
        *(Half*)(block + 2) = (Half)(maxMin / 63f);

        // Re-level every value against the scales as stored (6-bit, f16), not the searched floats.
        float storedD = (float)*(Half*)block, storedDmin = (float)*(Half*)(block + 2);
        for (int j = 0; j < 8; j++)
        {
            GetScaleMin(j, block + ScalesOffset, out byte sc, out byte m);
            float d = storedD * sc;
            if (d == 0)
            {
                // GGML keeps the search's levels here; with a zero scale they decode the same anyway.
                continue;
            }

            ReLevel(x.Slice(32 * j, 32), storedDmin * m, d, levels.Slice(32 * j, 32));
        }

        byte* q = block + QuantsOffset;
        for (int group = 0; group < BlockElements; group += 64, q += 32)
        {
            for (int i = 0; i < 32; i++)
            {
                q[i] = (byte)(levels[group + i] | (levels[group + i + 32] << 4));
            }
        }
    }

    /// <summary>
    /// levels[i] = clamp(nearest((x[i] + dm) / d), 0, 15) over a 32-value sub-block, lane by lane as the scalar
    /// expression rounds (a vector holds 4, 8 or 16 floats, so whole vectors cover it).
    /// </summary>
    private static void ReLevel(ReadOnlySpan<float> x, float dm, float d, Span<byte> levels)
    {
        int count = Vector<float>.Count;
        var vDm = new Vector<float>(dm);
        var vD = new Vector<float>(d);
        Span<int> lanes = stackalloc int[count];
        for (int i = 0; i < x.Length; i += count)
        {
            var l = GgmlRounding.NearestInt((new Vector<float>(x.Slice(i, count)) + vDm) / vD);
            Vector.Min(Vector.Max(l, Vector<int>.Zero), new Vector<int>(15)).CopyTo(lanes);
            for (int k = 0; k < count; k++)
            {
                levels[i + k] = (byte)lanes[k];
            }
        }
    }

    /// <summary>Encodes a row whose length is a multiple of 256 into consecutive super-blocks.</summary>
    public static void QuantizeRow(ReadOnlySpan<float> x, byte* destination)
    {
        BlockQuantization.CheckWholeBlocks(x.Length, BlockElements);
        for (int b = 0; b < x.Length / BlockElements; b++)
        {
            QuantizeBlock(x.Slice(b * BlockElements, BlockElements), destination + (b * BlockBytes));
        }
    }

    public static void DequantizeRow(byte* source, Span<float> destination)
    {
        BlockQuantization.CheckWholeBlocks(destination.Length, BlockElements);
        for (int b = 0; b < destination.Length / BlockElements; b++)
        {
            DequantizeBlock(source + (b * BlockBytes), destination.Slice(b * BlockElements, BlockElements));
        }
    }

    // 32 bytes → 64 weights: low nibbles are weights 0–31 (scale d1, min m1), high nibbles 32–63 (d2, m2).
    // Multiply then subtract, unfused, as GGML's scalar decoder rounds.
    private static void DecodeNibbles(byte* q, float d1, float m1, float d2, float m2, float* y)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var bytes = Vector256.Load(q);
            DecodeHalf(bytes & Vector256.Create((byte)0xF), Vector256.Create(d1), Vector256.Create(m1), y);
            DecodeHalf(Vector256.ShiftRightLogical(bytes, 4), Vector256.Create(d2), Vector256.Create(m2), y + 32);
            return;
        }

        for (int i = 0; i < 32; i++)
        {
            y[i] = (d1 * (q[i] & 0xF)) - m1;
            y[i + 32] = (d2 * (q[i] >> 4)) - m2;
        }
    }

    private static void DecodeHalf(Vector256<byte> levels, Vector256<float> d, Vector256<float> m, float* y)
    {
        var (lo, hi) = Vector256.Widen(levels);
        var (a, b) = Vector256.Widen(lo);
        var (c, e) = Vector256.Widen(hi);
        ((Vector256.ConvertToSingle(a.AsInt32()) * d) - m).Store(y);
        ((Vector256.ConvertToSingle(b.AsInt32()) * d) - m).Store(y + 8);
        ((Vector256.ConvertToSingle(c.AsInt32()) * d) - m).Store(y + 16);
        ((Vector256.ConvertToSingle(e.AsInt32()) * d) - m).Store(y + 24);
    }
}
