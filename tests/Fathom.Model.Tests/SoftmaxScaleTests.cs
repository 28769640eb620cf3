using Fathom.Model;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>ModelConfig.SoftmaxScale: (qk_nope + qk_rope)^-0.5 times YaRN's m² (docs/deepseek-architecture.md §5.4).</summary>
public sealed class SoftmaxScaleTests
{
    [Fact]
    public void V3ScaleIncludesTheYarnTemperature()
    {
        Assert.Equal(0.1352338, TestConfigs.V3Attention.SoftmaxScale, 1e-7);
    }

    [Fact]
    public void V2LiteScaleUsesItsMscaleAllDim()
    {
        var config = TestConfigs.V3Attention with { RopeScaling = new YarnScaling(40, 4096, 32, 1, 0.707, 0.707, null, true) };
        Assert.Equal(0.1147214, config.SoftmaxScale, 1e-7);
    }

    [Fact]
    public void WithoutRopeScalingTheScaleIsTheInverseRootOfTheHeadDim()
    {
        var config = TestConfigs.V3Attention with { RopeScaling = null };
        Assert.Equal(192, config.QkHeadDim);
        Assert.Equal(0.0721688, config.SoftmaxScale, 1e-7);
        Assert.Equal(1 / Math.Sqrt(192), config.SoftmaxScale, 1e-15);
    }

    [Fact]
    public void ZeroMscaleAllDimLeavesTheScaleUnchanged()
    {
        var config = TestConfigs.V3Attention with { RopeScaling = new YarnScaling(40, 4096, 32, 1, 1, 0, null, true) };
        Assert.Equal(1 / Math.Sqrt(192), config.SoftmaxScale, 1e-15);
    }

    [Fact]
    public void GoldenTinyV3UsesItsOwnFactor()
    {
        // tiny-v3: head dim 32 + 16, factor 4, mscale_all_dim 1.
        double m = (0.1 * Math.Log(4)) + 1;
        Assert.Equal(m * m / Math.Sqrt(48), TestConfigs.Tiny.SoftmaxScale, 1e-12);
    }
}
