using Fathom.Core;
using Xunit;

namespace Fathom.Core.Tests;

/// <summary>float8 e4m3fn decoding and encoding against the format's definition.</summary>
public sealed class Float8E4M3Tests
{
    [Fact]
    public void EveryCodeDecodesAsTheSpecFormulaSays()
    {
        for (int i = 0; i < 256; i++)
        {
            byte code = (byte)i;
            double expected = E4M3Reference.Decode(code);
            if (double.IsNaN(expected))
            {
                Assert.True(float.IsNaN(Float8E4M3.ToSingle(code)), $"code 0x{code:X2} should be NaN");
                Assert.True(float.IsNaN(Float8E4M3.Decode(code)), $"code 0x{code:X2} should be NaN");
                continue;
            }

            // Bitwise, so that -0 and +0 are told apart.
            Assert.Equal(BitConverter.SingleToInt32Bits((float)expected), BitConverter.SingleToInt32Bits(Float8E4M3.ToSingle(code)));
            Assert.Equal(BitConverter.SingleToInt32Bits((float)expected), BitConverter.SingleToInt32Bits(Float8E4M3.Decode(code)));
            Assert.Equal(Float8E4M3.ToSingle(code), Float8E4M3.DecodeTable[code]);
        }
    }

    /// <summary>The arithmetic encoder against the nearest-value search, ties and edges included.</summary>
    [Fact]
    public void FromSingleRoundsAsTheNearestValueSearch()
    {
        var values = new List<float> { 0f, -0f, 448f, 449f, 464f, 1e6f, float.PositiveInfinity, float.NegativeInfinity, 1e-30f, 0.015625f, 0.0156249f };
        var finite = Enumerable.Range(0, 0x7F).Select(c => Float8E4M3.ToSingle((byte)c)).Order().ToArray();
        for (int i = 0; i < finite.Length; i++)
        {
            values.Add(finite[i]);
            if (i + 1 < finite.Length)
            {
                float mid = (finite[i] + finite[i + 1]) / 2;
                values.AddRange([mid, MathF.BitDecrement(mid), MathF.BitIncrement(mid)]);
            }
        }

        var random = new Random(11);
        for (int i = 0; i < 20000; i++)
        {
            values.Add((float)(Math.Pow(2, (random.NextDouble() * 30) - 20) * (random.Next(2) == 0 ? 1 : -1)));
        }

        foreach (float v in values.Concat(values.Select(v => -v)))
        {
            Assert.True(E4M3Reference.Nearest(v) == Float8E4M3.FromSingle(v), $"{v:R}: 0x{E4M3Reference.Nearest(v):X2} against 0x{Float8E4M3.FromSingle(v):X2}");
        }

        Assert.Equal(0x7F, Float8E4M3.FromSingle(float.NaN));
    }

    [Fact]
    public void OnlyTheTwoAllOnesCodesAreNaN()
    {
        var nanCodes = Enumerable.Range(0, 256).Where(i => float.IsNaN(Float8E4M3.ToSingle((byte)i))).ToArray();
        Assert.Equal([0x7F, 0xFF], nanCodes);
    }

    [Fact]
    public void ZeroCodesAreSignedZeros()
    {
        Assert.Equal(0, BitConverter.SingleToInt32Bits(Float8E4M3.ToSingle(0x00)));
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(Float8E4M3.ToSingle(0x80)));
    }

    [Fact]
    public void SubnormalsAreMultiplesOfTwoToTheMinusNine()
    {
        for (int m = 1; m < 8; m++)
        {
            Assert.Equal(m * MathF.Pow(2, -9), Float8E4M3.ToSingle((byte)m));
            Assert.Equal(-m * MathF.Pow(2, -9), Float8E4M3.ToSingle((byte)(0x80 | m)));
        }

        Assert.Equal(MathF.Pow(2, -6), Float8E4M3.ToSingle(0x08));
    }

    [Fact]
    public void LargestFiniteMagnitudeIs448()
    {
        Assert.Equal(448f, Float8E4M3.MaxValue);
        Assert.Equal(448f, Float8E4M3.ToSingle(0x7E));
        Assert.Equal(-448f, Float8E4M3.ToSingle(0xFE));
        float largest = Enumerable.Range(0, 256).Select(i => Float8E4M3.ToSingle((byte)i)).Where(float.IsFinite).Max();
        Assert.Equal(448f, largest);
        Assert.DoesNotContain(Enumerable.Range(0, 256), i => float.IsInfinity(Float8E4M3.ToSingle((byte)i)));
    }

    [Fact]
    public void FromSingleRoundTripsEveryFiniteCode()
    {
        for (int i = 0; i < 256; i++)
        {
            byte code = (byte)i;
            if (!E4M3Reference.IsNaNCode(code))
            {
                Assert.Equal(code, Float8E4M3.FromSingle(Float8E4M3.ToSingle(code)));
            }
        }
    }

    [Fact]
    public void FromSingleRoundsMidpointsToTheEvenCodeAndOtherValuesToTheNearest()
    {
        for (int c = 0; c < 0x7E; c++)
        {
            float low = Float8E4M3.ToSingle((byte)c), high = Float8E4M3.ToSingle((byte)(c + 1));
            float mid = (low + high) / 2; // exact: both have at most 4 significant bits
            byte even = (byte)((c & 1) == 0 ? c : c + 1);
            Assert.Equal(even, Float8E4M3.FromSingle(mid));
            Assert.Equal((byte)(even | 0x80), Float8E4M3.FromSingle(-mid));
            Assert.Equal((byte)(c + 1), Float8E4M3.FromSingle(MathF.BitIncrement(mid)));
            Assert.Equal((byte)c, Float8E4M3.FromSingle(MathF.BitDecrement(mid)));
        }
    }

    [Theory]
    [InlineData(448f)]
    [InlineData(449f)]
    [InlineData(464f)]
    [InlineData(500f)]
    [InlineData(1e6f)]
    [InlineData(float.MaxValue)]
    [InlineData(float.PositiveInfinity)]
    public void FromSingleSaturatesAtTheLargestFiniteValue(float value)
    {
        Assert.Equal(0x7E, Float8E4M3.FromSingle(value));
        Assert.Equal(0xFE, Float8E4M3.FromSingle(-value));
    }

    [Fact]
    public void FromSingleEncodesNaNAsNaN()
    {
        Assert.True(float.IsNaN(Float8E4M3.ToSingle(Float8E4M3.FromSingle(float.NaN))));
        Assert.True(float.IsNaN(Float8E4M3.ToSingle(Float8E4M3.FromSingle(BitConverter.UInt32BitsToSingle(0xFF800001)))));
    }

    [Fact]
    public void FromSingleKeepsTheSignOfValuesThatRoundToZero()
    {
        Assert.Equal(0x00, Float8E4M3.FromSingle(0f));
        Assert.Equal(0x80, Float8E4M3.FromSingle(-0f));
        Assert.Equal(0x00, Float8E4M3.FromSingle(1e-10f));
        Assert.Equal(0x80, Float8E4M3.FromSingle(-1e-10f));
        // Half the smallest subnormal is a tie between 0 and 2^-9: the even code, zero, wins.
        Assert.Equal(0x00, Float8E4M3.FromSingle(MathF.Pow(2, -10)));
        Assert.Equal(0x01, Float8E4M3.FromSingle(MathF.BitIncrement(MathF.Pow(2, -10))));
    }
}
