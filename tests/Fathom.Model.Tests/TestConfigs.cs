using Fathom.Model;
using Fathom.TestSupport;

namespace Fathom.Model.Tests;

/// <summary>ModelConfig values to derive test configurations from with <c>with { ... }</c>.</summary>
internal static class TestConfigs
{
    private static readonly Lazy<ModelConfig> TinyV3 = new(() =>
        ModelConfig.Load(Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model", "config.json")));

    /// <summary>The golden tiny-v3 configuration.</summary>
    public static ModelConfig Tiny => TinyV3.Value;

    /// <summary>DeepSeek-V3's attention geometry and YaRN settings (rope head 64, nope 128, factor 40 over 4096).</summary>
    public static ModelConfig V3Attention => Tiny with
    {
        QkNopeHeadDim = 128,
        QkRopeHeadDim = 64,
        VHeadDim = 128,
        RopeTheta = 10000,
        RopeScaling = new YarnScaling(40, 4096, 32, 1, 1, 1, null, true),
    };

    /// <summary>A router-only configuration.</summary>
    public static ModelConfig Router(
        int experts,
        int perToken,
        int groups,
        int keptGroups,
        ScoringFunction scoring,
        TopKMethod method,
        bool normalise,
        double scale) => Tiny with
        {
            NRoutedExperts = experts,
            NumExpertsPerTok = perToken,
            NGroup = groups,
            TopKGroup = keptGroups,
            ScoringFunc = scoring,
            TopKMethod = method,
            NormTopKProb = normalise,
            RoutedScalingFactor = scale,
        };
}
