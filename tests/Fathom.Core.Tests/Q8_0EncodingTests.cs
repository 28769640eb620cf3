using System.Security.Cryptography;
using Xunit;

namespace Fathom.Core.Tests;

/// <summary>Q8_0 encoding: GGML's reference bytes, worked out by hand for small blocks, and its error bound.</summary>
public sealed unsafe class Q8_0EncodingTests
{
    [Fact]
    public void ConstantBlockEncodesToHandDerivedBytes()
    {
        // amax 0.5 → d = 0.5/127 = 0.0039370 = 2^-8 · 1.00787 → f16 mantissa round(0.00787·1024) = 8, exponent 7: 0x1C08.
        // q = round(0.5 · 254) = 127 for every weight.
        var bytes = BlockBytes.Encode(DType.Q8_0, Enumerable.Repeat(0.5f, 32).ToArray());
        Assert.Equal(new byte[] { 0x08, 0x1C }, bytes[..2]);
        Assert.All(bytes[2..], b => Assert.Equal(0x7F, b));
    }

    [Fact]
    public void HalvesRoundAwayFromZeroAsCsRoundf()
    {
        // amax 127 → d = 1 (f16 0x3C00), so q = round(x) exactly, with ties away from zero.
        var x = new float[32];
        new[] { 127f, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, -1.5f }.CopyTo(x, 0);
        var bytes = BlockBytes.Encode(DType.Q8_0, x);
        Assert.Equal(new byte[] { 0x00, 0x3C, 127, 3, unchecked((byte)-3), 1, unchecked((byte)-1), 2, unchecked((byte)-2), 0 }, bytes[..10]);
    }

    [Fact]
    public void MatchesTheScalarReferenceOnManyBlocksWithTiesAndOddScales()
    {
        // The encoder works a vector at a time; GGML's loop, written out below, is the reference. Blocks of
        // Gaussians at many scales, blocks with exact halves (amax 127, d = 1), and a few all-zero blocks.
        var random = new Random(17);
        var x = new float[32];
        for (int block = 0; block < 3000; block++)
        {
            double sigma = Math.Pow(10, random.Next(-6, 3));
            for (int i = 0; i < 32; i++)
            {
                x[i] = (block % 3) switch
                {
                    0 => (float)(sigma * (random.NextDouble() - 0.5)),
                    1 => i == 0 ? 127f : (random.Next(-254, 255) * 0.5f),
                    _ => block % 300 == 2 ? 0f : (float)(sigma * Math.Tan(Math.PI * (random.NextDouble() - 0.5))),
                };
            }

            var actual = BlockBytes.Encode(DType.Q8_0, x);
            var expected = Reference(x);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"block {block}: {Convert.ToHexString(actual)} vs {Convert.ToHexString(expected)}");
        }
    }

    private static byte[] Reference(float[] x)
    {
        float amax = 0;
        foreach (float v in x)
        {
            amax = Math.Max(amax, Math.Abs(v));
        }

        float d = amax / 127;
        float id = d != 0 ? 1f / d : 0f;
        var bytes = new byte[34];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 2), (Half)d);
        for (int i = 0; i < 32; i++)
        {
            bytes[2 + i] = unchecked((byte)(sbyte)MathF.Round(x[i] * id, MidpointRounding.AwayFromZero));
        }

        return bytes;
    }

    [Fact]
    public void RampBlockEncodesToHandDerivedBytes()
    {
        // x = 0..31: d = 31/127 = 0.244094 = 2^-3 · 1.952756 → mantissa round(0.952756·1024) = 976, exponent 12: 0x33D0.
        // q = round(127·i/31); 127·i mod 31 is never 15.5, so no value sits near a tie.
        var bytes = BlockBytes.Encode(DType.Q8_0, Enumerable.Range(0, 32).Select(i => (float)i).ToArray());
        Assert.Equal(new byte[] { 0xD0, 0x33 }, bytes[..2]);
        for (int i = 0; i < 32; i++)
        {
            Assert.Equal((sbyte)Math.Round(127.0 * i / 31), (sbyte)bytes[2 + i]);
        }
    }

    [Fact]
    public void ZeroBlockIsAllZeroBytes()
    {
        Assert.All(BlockBytes.Encode(DType.Q8_0, new float[64]), b => Assert.Equal(0, b));
    }

    [Fact]
    public void MatchesGgmlReferenceEncoderOnDeterministicInputs()
    {
        // SHA-256 of what GGML's quantize_row_q8_0_ref writes for BlockBytes.Deterministic(3072).
        var bytes = BlockBytes.Encode(DType.Q8_0, BlockBytes.Deterministic(3072));
        Assert.Equal("53d8c4c38841a9d77e12a5389bdfe05460b41b629c10b2d4bf886c608620a909", Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    [Theory]
    [InlineData(0.02, 1)]
    [InlineData(1.0, 2)]
    [InlineData(300.0, 3)]
    public void RoundTripErrorIsHalfAStepPlusTheF16ScaleRounding(double sigma, int seed)
    {
        var x = BlockBytes.Gaussian(32 * 200, sigma, seed);
        var y = BlockBytes.Decode(DType.Q8_0, BlockBytes.Encode(DType.Q8_0, x), x.Length);
        for (int b = 0; b < 200; b++)
        {
            var block = x.AsSpan(32 * b, 32);
            float amax = 0;
            foreach (float v in block)
            {
                amax = Math.Max(amax, Math.Abs(v));
            }

            float d = amax / 127;
            double stored = (double)(Half)d;
            // q is chosen with the float d, but decoded with the f16 one: |q| ≤ 127 steps of their difference.
            double bound = (0.5 * d * (1 + 1e-6)) + (127 * Math.Abs(stored - d));
            for (int i = 0; i < 32; i++)
            {
                double error = Math.Abs(y[(32 * b) + i] - (double)block[i]);
                Assert.True(error <= bound, $"block {b} element {i}: error {error:E3} > {bound:E3} (d {d:E3})");
            }
        }
    }

    [Fact]
    public void DecodeIsScaleTimesLevel()
    {
        var bytes = BlockBytes.Pinned(34, out byte* p);
        *(Half*)p = (Half)0.125f;
        for (int i = 0; i < 32; i++)
        {
            ((sbyte*)(p + 2))[i] = (sbyte)((i * 8) - 127);
        }

        var y = new float[32];
        Q8_0.DequantizeBlock(p, y);
        for (int i = 0; i < 32; i++)
        {
            Assert.Equal(0.125f * ((i * 8) - 127), y[i]);
        }

        GC.KeepAlive(bytes);
    }
}
