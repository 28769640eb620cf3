using System.Security.Cryptography;
using Xunit;

namespace Fathom.Core.Tests;

/// <summary>Q4_K encoding: GGML's reference bytes, hand-derived small blocks, the scale packing and the error level.</summary>
public sealed unsafe class Q4KEncodingTests
{
    [Fact]
    public void ConstantBlockEncodesToHandDerivedBytes()
    {
        // Every sub-block: min clamps to 0, max 1, so levels are 15 and scale 1/15 (the refits all have a zero
        // determinant); mins are 0. Scales quantize to 63 with d = (1/15)/63 = 0.0010582 → f16 0x1456
        // (2^-10 · (1 + 86/1024)); dmin = 0. Packing 63 for sub-blocks 4–7 puts 0xF in bytes 8–11 and their top
        // bits (3) in the top of bytes 0–3: 63 | 0xC0 = 0xFF.
        var bytes = BlockBytes.Encode(DType.Q4K, Enumerable.Repeat(1f, 256).ToArray());
        Assert.Equal(
            new byte[] { 0x56, 0x14, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x0F, 0x0F, 0x0F, 0x0F },
            bytes[..16]);
        Assert.All(bytes[16..], b => Assert.Equal(0xFF, b));

        // Decodes as (d · 63) · 15 in float32.
        float d = (float)BitConverter.UInt16BitsToHalf(0x1456);
        Assert.All(BlockBytes.Decode(DType.Q4K, bytes, 256), v => Assert.Equal(d * 63 * 15, v));
    }

    [Fact]
    public void ExactGridBlockEncodesToHandDerivedBytes()
    {
        // Sub-block j holds 2^-j · (i mod 16): an exact 16-level grid, so the search keeps scale 2^-j and min 0.
        // 6-bit scales: round(63 · 2^-j) = 63, 32 (31.5, tie to even), 16, 8, 4, 2, 1, 0; d = 1/63 → f16 0x2410.
        // Re-levelling against d·scale returns i mod 16 (the ratio 2^-j / (d·scale) stays within 2% of 1), and
        // sub-block 7, whose scale is 0, keeps the search's levels.
        var x = new float[256];
        for (int i = 0; i < 256; i++)
        {
            x[i] = MathF.ScaleB(i % 16, -(i / 32));
        }

        var bytes = BlockBytes.Encode(DType.Q4K, x);
        Assert.Equal(
            new byte[] { 0x10, 0x24, 0x00, 0x00, 0x3F, 0x20, 0x10, 0x08, 0x00, 0x00, 0x00, 0x00, 0x04, 0x02, 0x01, 0x00 },
            bytes[..16]);
        for (int i = 0; i < 128; i++)
        {
            // Byte i of each 32-byte group: weight i (low nibble) and weight i + 32 (high), both i mod 16.
            Assert.Equal((byte)((i % 16) * 0x11), bytes[16 + i]);
        }

        var y = BlockBytes.Decode(DType.Q4K, bytes, 256);
        float d = (float)BitConverter.UInt16BitsToHalf(0x2410);
        int[] scales = [63, 32, 16, 8, 4, 2, 1, 0];
        for (int i = 0; i < 256; i++)
        {
            Assert.Equal(d * scales[i / 32] * (i % 16), y[i]);
        }
    }

    [Fact]
    public void ZeroBlockIsAllZeroBytes()
    {
        Assert.All(BlockBytes.Encode(DType.Q4K, new float[512]), b => Assert.Equal(0, b));
    }

    [Fact]
    public void MatchesGgmlReferenceEncoderOnDeterministicInputs()
    {
        // SHA-256 of what GGML's quantize_row_q4_K_ref writes for BlockBytes.Deterministic(3072): mixed signs,
        // all-positive super-blocks and eight magnitudes per super-block exercise both search branches.
        var bytes = BlockBytes.Encode(DType.Q4K, BlockBytes.Deterministic(3072));
        Assert.Equal("2c5c08509e39b761b28691d68ae6ba9570445cab48fdc999cbd2f8cb84136e7e", Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    [Fact]
    public void PackedScalesUnpackToEveryScaleAndMin()
    {
        var random = new Random(5);
        var packed = BlockBytes.Pinned(12, out byte* p);
        for (int trial = 0; trial < 1000; trial++)
        {
            var scales = new byte[8];
            var mins = new byte[8];
            for (int j = 0; j < 8; j++)
            {
                scales[j] = (byte)random.Next(64);
                mins[j] = (byte)random.Next(64);
            }

            packed.AsSpan().Fill(0xA5);
            Q4K.PackScaleMins(scales, mins, p);
            for (int j = 0; j < 8; j++)
            {
                Q4K.GetScaleMin(j, p, out byte scale, out byte min);
                Assert.Equal(scales[j], scale);
                Assert.Equal(mins[j], min);
            }
        }
    }

    [Fact]
    public void UnpacksTheDocumentedBitPositions()
    {
        // Sub-block 5: scale = low nibble of byte 9 | top two bits of byte 1 shifted to bits 4–5;
        // min = high nibble of byte 9 | top two bits of byte 5 shifted likewise. Sub-block 1: low 6 bits of bytes 1 and 5.
        var packed = BlockBytes.Pinned(12, out byte* p);
        p[1] = 0b10_010101;
        p[5] = 0b01_101010;
        p[9] = 0x7C;
        Q4K.GetScaleMin(5, p, out byte scale, out byte min);
        Assert.Equal(0b10_1100, scale);
        Assert.Equal(0b01_0111, min);
        Q4K.GetScaleMin(1, p, out scale, out min);
        Assert.Equal(0b010101, scale);
        Assert.Equal(0b101010, min);
        GC.KeepAlive(packed);
    }

    [Fact]
    public void DecodeUsesScaleTimesLevelMinusMin()
    {
        var bytes = BlockBytes.Pinned(144, out byte* p);
        *(Half*)p = (Half)0.5f;
        *(Half*)(p + 2) = (Half)0.25f;
        Q4K.PackScaleMins([1, 2, 3, 4, 60, 61, 62, 63], [7, 6, 5, 4, 33, 34, 35, 63], p + 4);
        for (int i = 0; i < 128; i++)
        {
            p[16 + i] = (byte)((i * 37) & 0xFF);
        }

        var y = new float[256];
        Q4K.DequantizeBlock(p, y);
        int[] scales = [1, 2, 3, 4, 60, 61, 62, 63], mins = [7, 6, 5, 4, 33, 34, 35, 63];
        for (int i = 0; i < 256; i++)
        {
            int group = i / 64, within = i % 64;
            byte packedByte = p[16 + (group * 32) + (within % 32)];
            int level = within < 32 ? packedByte & 0xF : packedByte >> 4;
            int j = i / 32;
            Assert.Equal((0.5f * scales[j] * level) - (0.25f * mins[j]), y[i]);
        }
    }

    [Theory]
    [InlineData(0.02, 1)]
    [InlineData(1.0, 2)]
    public void RoundTripRelativeErrorIsAFewPercent(double sigma, int seed)
    {
        var x = BlockBytes.Gaussian(256 * 64, sigma, seed);
        var y = BlockBytes.Decode(DType.Q4K, BlockBytes.Encode(DType.Q4K, x), x.Length);
        double error = 0, norm = 0;
        for (int i = 0; i < x.Length; i++)
        {
            error += (y[i] - (double)x[i]) * (y[i] - (double)x[i]);
            norm += (double)x[i] * x[i];
        }

        // 16 levels over each 32-weight range: a step of about range/15 and an RMS error of step/√12, which for
        // these bell-shaped weights is ~7% of σ whatever σ is (4 bits cannot do much better; Q8_0 gives ~0.5%).
        // Measured: 6.88% for both scales.
        double relative = Math.Sqrt(error / norm);
        Assert.InRange(relative, 0.06, 0.075);
    }
}
