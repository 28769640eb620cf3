using Fathom.Model;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>YaRN frequencies with DeepSeek-V3's released values (docs/deepseek-architecture.md §6).</summary>
public sealed class YarnRopeTests
{
    [Fact]
    public void V3HasThirtyTwoPairs()
    {
        var rope = new YarnRope(TestConfigs.V3Attention);
        Assert.Equal(32, rope.Pairs);
        Assert.Equal(32, rope.InverseFrequencies.Length);
    }

    [Fact]
    public void V3KeepsTheOriginalFrequencyUpToPairTen()
    {
        // corr_dim(beta_fast = 32) = 10.47, floored to low = 10.
        var rope = new YarnRope(TestConfigs.V3Attention);
        for (int j = 0; j <= 10; j++)
        {
            AssertRelative(Original(j), rope.InverseFrequencies[j], 1e-6, $"pair {j}");
        }
    }

    [Fact]
    public void V3DividesTheFrequencyByFortyFromPairTwentyThree()
    {
        // corr_dim(beta_slow = 1) = 22.51, ceiled to high = 23.
        var rope = new YarnRope(TestConfigs.V3Attention);
        for (int j = 23; j < 32; j++)
        {
            AssertRelative(Original(j) / 40, rope.InverseFrequencies[j], 1e-6, $"pair {j}");
        }

        AssertRelative(3.3338e-6, rope.InverseFrequencies[31], 1e-4, "pair 31");
    }

    [Fact]
    public void V3BlendsLinearlyBetweenPairsTenAndTwentyThree()
    {
        var rope = new YarnRope(TestConfigs.V3Attention);
        for (int j = 11; j < 23; j++)
        {
            double ramp = (j - 10) / 13.0;
            double expected = (Original(j) * (1 - ramp)) + (Original(j) / 40 * ramp);
            AssertRelative(expected, rope.InverseFrequencies[j], 1e-5, $"pair {j}");
            Assert.True(rope.InverseFrequencies[j] < Original(j) && rope.InverseFrequencies[j] > Original(j) / 40, $"pair {j} is not a blend");
        }
    }

    [Fact]
    public void WithoutTruncationTheRampUsesTheExactCorrectionDimensions()
    {
        var config = TestConfigs.V3Attention with { RopeScaling = TestConfigs.V3Attention.RopeScaling! with { Truncate = false } };
        var rope = new YarnRope(config);
        double low = CorrectionDim(32), high = CorrectionDim(1);
        Assert.Equal(10.472, low, 1e-3);
        Assert.Equal(22.513, high, 1e-3);
        for (int j = 0; j < 32; j++)
        {
            double ramp = Math.Clamp((j - low) / (high - low), 0, 1);
            double expected = (Original(j) * (1 - ramp)) + (Original(j) / 40 * ramp);
            AssertRelative(expected, rope.InverseFrequencies[j], 1e-5, $"pair {j}");
        }
    }

    [Fact]
    public void AttentionFactorIsOneWhenMscaleEqualsMscaleAllDim()
    {
        Assert.Equal(1f, new YarnRope(TestConfigs.V3Attention).AttentionFactor);
        var v2Lite = TestConfigs.V3Attention with { RopeScaling = new YarnScaling(40, 4096, 32, 1, 0.707, 0.707, null, true) };
        Assert.Equal(1f, new YarnRope(v2Lite).AttentionFactor, 1e-7f);
    }

    [Fact]
    public void AttentionFactorFallsBackToGetMscaleWithoutMscaleAllDim()
    {
        var config = TestConfigs.V3Attention with { RopeScaling = new YarnScaling(40, 4096, 32, 1, 0, 0, null, true) };
        Assert.Equal((0.1 * Math.Log(40)) + 1, new YarnRope(config).AttentionFactor, 1e-6);
    }

    [Fact]
    public void ExplicitAttentionFactorWins()
    {
        var config = TestConfigs.V3Attention with { RopeScaling = new YarnScaling(40, 4096, 32, 1, 1, 1, 0.5, true) };
        var rope = new YarnRope(config);
        Assert.Equal(0.5f, rope.AttentionFactor);
        var cos = new float[32];
        var sin = new float[32];
        rope.Fill(0, cos, sin);
        Assert.All(cos, c => Assert.Equal(0.5f, c));
        Assert.All(sin, s => Assert.Equal(0f, s));
    }

    [Fact]
    public void WithoutScalingTheFrequenciesArePlainRope()
    {
        var rope = new YarnRope(TestConfigs.V3Attention with { RopeScaling = null });
        Assert.Equal(1f, rope.AttentionFactor);
        for (int j = 0; j < 32; j++)
        {
            AssertRelative(Original(j), rope.InverseFrequencies[j], 1e-6, $"pair {j}");
        }
    }

    [Fact]
    public void FillGivesTheCosineAndSineOfPositionTimesFrequency()
    {
        var rope = new YarnRope(TestConfigs.V3Attention);
        var cos = new float[32];
        var sin = new float[32];
        rope.Fill(1000, cos, sin);
        for (int j = 0; j < 32; j++)
        {
            float angle = rope.InverseFrequencies[j] * 1000;
            Assert.Equal(Math.Cos(angle), cos[j], 1e-6);
            Assert.Equal(Math.Sin(angle), sin[j], 1e-6);
        }
    }

    private static double Original(int j) => 1.0 / Math.Pow(10000, 2.0 * j / 64);

    private static double CorrectionDim(double rotations) => 64 * Math.Log(4096 / (rotations * 2 * Math.PI)) / (2 * Math.Log(10000));

    private static void AssertRelative(double expected, double actual, double tolerance, string what) =>
        Assert.True(Math.Abs(actual - expected) <= tolerance * Math.Abs(expected), $"{what}: {actual:R}, expected {expected:R}");
}
