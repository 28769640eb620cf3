using Fathom.Core;
using Xunit;

namespace Fathom.Core.Tests;

/// <summary>bfloat16 as the upper half of a float32, rounded to nearest even.</summary>
public sealed class BFloat16Tests
{
    [Fact]
    public void ToSingleIsTheUpperHalfOfAFloat32()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            Assert.Equal((uint)bits << 16, BitConverter.SingleToUInt32Bits(BFloat16.ToSingle((ushort)bits)));
        }
    }

    [Fact]
    public void FromSingleIsExactForEveryRepresentableValue()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float value = BFloat16.ToSingle((ushort)bits);
            if (!float.IsNaN(value))
            {
                Assert.Equal((ushort)bits, BFloat16.FromSingle(value));
            }
        }
    }

    [Theory]
    [InlineData(0x3F808000u, 0x3F80)] // 1 + 2^-8: halfway between 1 (even) and 1 + 2^-7 (odd)
    [InlineData(0x3F818000u, 0x3F82)] // 1 + 3·2^-8: halfway between odd 0x3F81 and even 0x3F82
    [InlineData(0xBF808000u, 0xBF80)]
    [InlineData(0xBF818000u, 0xBF82)]
    [InlineData(0x00008000u, 0x0000)] // a subnormal tie
    [InlineData(0x00018000u, 0x0002)]
    public void FromSingleRoundsHalfwayCasesToEven(uint float32Bits, int expected)
    {
        Assert.Equal((ushort)expected, BFloat16.FromSingle(BitConverter.UInt32BitsToSingle(float32Bits)));
    }

    [Theory]
    [InlineData(0x3F807FFFu, 0x3F80)]
    [InlineData(0x3F808001u, 0x3F81)]
    [InlineData(0x3F80FFFFu, 0x3F81)]
    [InlineData(0xC0490FDBu, 0xC049)] // -π
    public void FromSingleRoundsOtherValuesToTheNearest(uint float32Bits, int expected)
    {
        Assert.Equal((ushort)expected, BFloat16.FromSingle(BitConverter.UInt32BitsToSingle(float32Bits)));
    }

    [Fact]
    public void FromSingleMapsInfinitiesToInfinitiesAndOverflowsToInfinity()
    {
        Assert.Equal(0x7F80, BFloat16.FromSingle(float.PositiveInfinity));
        Assert.Equal(0xFF80, BFloat16.FromSingle(float.NegativeInfinity));
        // float.MaxValue lies above the largest bf16 plus half an ulp, so it rounds to infinity (as in PyTorch).
        Assert.Equal(0x7F80, BFloat16.FromSingle(float.MaxValue));
        Assert.Equal(0x7F7F, BFloat16.FromSingle(BitConverter.UInt32BitsToSingle(0x7F7F7FFF)));
    }

    [Theory]
    [InlineData(0x7FC00000u)]
    [InlineData(0x7F800001u)] // payload only in the low half: truncation would make it infinity
    [InlineData(0xFF800001u)]
    [InlineData(0x7FFFFFFFu)] // rounding up would carry out of the exponent
    public void FromSingleKeepsNaNAndItsSign(uint float32Bits)
    {
        float nan = BitConverter.UInt32BitsToSingle(float32Bits);
        float result = BFloat16.ToSingle(BFloat16.FromSingle(nan));
        Assert.True(float.IsNaN(result));
        Assert.Equal(float.IsNegative(nan), float.IsNegative(result));
    }
}
