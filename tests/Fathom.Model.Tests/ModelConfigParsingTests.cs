using Fathom.Model;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>config.json variants that real checkpoints use all parse to the intended ModelConfig.</summary>
public sealed class ModelConfigParsingTests
{
    [Fact]
    public void RopeParametersFormMatchesTheRopeScalingForm()
    {
        using var released = new ConfigJson().Set("rope_theta", "50000.0");
        var expected = released.Load();

        // transformers 5 moves rope_theta and the YaRN fields into rope_parameters with rope_type.
        using var newer = new ConfigJson()
            .Set("rope_scaling", null)
            .Set("rope_theta", null)
            .Set("rope_parameters", """
                {"rope_type": "yarn", "rope_theta": 50000.0, "factor": 4.0, "original_max_position_embeddings": 128,
                 "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0}
                """);
        var actual = newer.Load();

        Assert.NotNull(expected.RopeScaling);
        Assert.Equal(expected.RopeScaling, actual.RopeScaling);
        Assert.Equal(50000.0, expected.RopeTheta);
        Assert.Equal(expected.RopeTheta, actual.RopeTheta);
        Assert.Equal(new YarnScaling(4.0, 128, 32, 1, 1.0, 1.0, null, true), actual.RopeScaling);
    }

    [Fact]
    public void DefaultRopeParametersMeanPlainRope()
    {
        using var config = new ConfigJson()
            .Set("rope_scaling", null)
            .Set("rope_theta", null)
            .Set("rope_parameters", """{"rope_type": "default", "rope_theta": 20000.0}""");
        var c = config.Load();
        Assert.Null(c.RopeScaling);
        Assert.Equal(20000.0, c.RopeTheta);
    }

    [Fact]
    public void NullRopeScalingAndNoThetaMeanPlainRopeWithBase10000()
    {
        using var config = new ConfigJson().Set("rope_scaling", "null").Set("rope_theta", null);
        var c = config.Load();
        Assert.Null(c.RopeScaling);
        Assert.Equal(10000.0, c.RopeTheta);
    }

    [Fact]
    public void NullQLoraRankMeansAPlainQueryProjection()
    {
        using var config = new ConfigJson().Set("q_lora_rank", "null");
        Assert.Null(config.Load().QLoraRank);
    }

    [Fact]
    public void EosTokenIdMayBeAList()
    {
        using var config = new ConfigJson().Set("eos_token_id", "[1, 7, 511]");
        Assert.Equal([1, 7, 511], config.Load().EosTokenIds);
    }

    [Fact]
    public void MissingEosTokenIdMeansNone()
    {
        using var config = new ConfigJson().Set("eos_token_id", null);
        Assert.Empty(config.Load().EosTokenIds);
    }

    [Fact]
    public void V2DefaultsToSoftmaxAndGreedyRouting()
    {
        using var config = new ConfigJson("tiny-v2-lite").Set("scoring_func", null).Set("topk_method", null);
        var c = config.Load();
        Assert.Equal(ScoringFunction.Softmax, c.ScoringFunc);
        Assert.Equal(TopKMethod.Greedy, c.TopKMethod);
    }

    [Fact]
    public void V3DefaultsToSigmoidAndNoAuxTcRouting()
    {
        using var config = new ConfigJson("tiny-v3").Set("scoring_func", null).Set("topk_method", null);
        var c = config.Load();
        Assert.Equal(ScoringFunction.Sigmoid, c.ScoringFunc);
        Assert.Equal(TopKMethod.NoAuxTc, c.TopKMethod);
    }

    [Fact]
    public void Fp8QuantizationConfigIsRead()
    {
        using var config = new ConfigJson("tiny-v3-fp8");
        Assert.Equal(new Fp8Quantization(128, 128, "dynamic"), config.Load().Quantization);
    }

    [Fact]
    public void IntegerQuantizationConfigsAreRead()
    {
        using (var int8 = new ConfigJson().Set("quantization_config", """{"quant_method": "w8a8_int8"}"""))
        {
            var c = int8.Load();
            Assert.Null(c.Quantization);
            Assert.Equal(IntegerQuantMethod.W8A8Int8, c.IntegerQuantization!.Method);
        }

        using var awq = new ConfigJson().Set("quantization_config", """{"quant_method": "awq", "bits": 4, "group_size": 64, "zero_point": true, "version": "GEMM", "modules_to_not_convert": ["q_b_proj"]}""");
        var q = awq.Load().IntegerQuantization!;
        Assert.Equal((IntegerQuantMethod.Awq, 4, 64, "awq"), (q.Method, q.Bits, q.GroupSize, q.MethodName));
        Assert.Equal(["q_b_proj"], q.ModulesNotConverted);
    }

    [Fact]
    public void GoldenV3ConfigReadsAsWritten()
    {
        using var config = new ConfigJson("tiny-v3");
        var c = config.Load();
        Assert.Equal("deepseek_v3", c.ModelType);
        Assert.Equal((512, 256, 4, 16, 4, 4, 2), (c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NRoutedExperts, c.NumExpertsPerTok, c.NGroup, c.TopKGroup));
        Assert.Equal((96, 64, 32, 16, 32), ((int)c.QLoraRank!, c.KvLoraRank, c.QkNopeHeadDim, c.QkRopeHeadDim, c.VHeadDim));
        Assert.Equal(2.5, c.RoutedScalingFactor);
        Assert.True(c.NormTopKProb);
        Assert.Equal([1], c.EosTokenIds);
        Assert.False(c.IsMoeLayer(0));
        Assert.True(c.IsMoeLayer(1));
        Assert.Equal(80, c.KvCacheWidth);
    }
}
