using Fathom.Model;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>
/// Checkpoints whose tensors disagree with config.json fail to load with a ModelFormatException naming the tensor
/// and what was expected.
/// </summary>
public sealed class WeightLoaderErrorTests
{
    [Fact]
    public void MissingTensorIsNamed()
    {
        using var copy = new ModelCopy("tiny-v3");
        copy.RemoveTensor("model.layers.1.mlp.experts.3.up_proj.weight");
        var e = LoadFails(copy);
        Assert.Contains("missing tensor 'model.layers.1.mlp.experts.3.up_proj.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains(copy.Directory, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingRouterBiasIsNamed()
    {
        using var copy = new ModelCopy("tiny-v3");
        copy.RemoveTensor("model.layers.2.mlp.gate.e_score_correction_bias");
        var e = LoadFails(copy);
        Assert.Contains("'model.layers.2.mlp.gate.e_score_correction_bias'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongMatrixShapeNamesTheTensorAndBothShapes()
    {
        using var copy = new ModelCopy("tiny-v3");
        const string name = "model.layers.0.self_attn.kv_a_proj_with_mqa.weight";
        copy.ReplaceTensor(name, t => SafeTensorsBuilder.Zeros(name, "BF16", 81, 256));
        var e = LoadFails(copy);
        Assert.Contains($"'{name}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("shape [81, 256]", e.Message, StringComparison.Ordinal);
        Assert.Contains("implies [80, 256]", e.Message, StringComparison.Ordinal);
        Assert.Contains(copy.WeightsPath, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MatrixStoredAsAVectorIsRejected()
    {
        using var copy = new ModelCopy("tiny-v3");
        const string name = "lm_head.weight";
        copy.ReplaceTensor(name, t => SafeTensorsBuilder.Zeros(name, "BF16", 512 * 256));
        var e = LoadFails(copy);
        Assert.Contains($"'{name}' has shape [131072]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[512, 256]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongNormShapeNamesTheTensorAndBothShapes()
    {
        using var copy = new ModelCopy("tiny-v3");
        const string name = "model.layers.3.post_attention_layernorm.weight";
        copy.ReplaceTensor(name, t => SafeTensorsBuilder.Zeros(name, "BF16", 255));
        var e = LoadFails(copy);
        Assert.Contains($"'{name}' has shape [255]", e.Message, StringComparison.Ordinal);
        Assert.Contains("implies [256]", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("I32")]
    [InlineData("F64")]
    [InlineData("F8_E5M2")]
    public void UnsupportedDTypeForALinearWeightIsNamed(string dtype)
    {
        using var copy = new ModelCopy("tiny-v3");
        const string name = "model.layers.0.self_attn.q_a_proj.weight";
        copy.ReplaceTensor(name, t => SafeTensorsBuilder.Zeros(name, dtype, 96, 256));
        var e = LoadFails(copy);
        Assert.Contains($"'{name}' has dtype {dtype}", e.Message, StringComparison.Ordinal);
        Assert.Contains("not supported", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fp8EmbeddingIsRejected()
    {
        using var copy = new ModelCopy("tiny-v3");
        const string name = "model.embed_tokens.weight";
        copy.ReplaceTensor(name, t => SafeTensorsBuilder.Zeros(name, "F8_E4M3", 512, 256));
        var e = LoadFails(copy);
        Assert.Contains($"'{name}' has dtype F8_E4M3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fp8WeightWithoutItsScalesIsNamed()
    {
        using var copy = new ModelCopy("tiny-v3-fp8");
        copy.RemoveTensor("model.layers.0.self_attn.q_a_proj.weight_scale_inv");
        var e = LoadFails(copy);
        Assert.Contains("'model.layers.0.self_attn.q_a_proj.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("no block scales 'model.layers.0.self_attn.q_a_proj.weight_scale_inv'", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new long[] { 1, 1 })]
    [InlineData(new long[] { 3, 2 })]
    [InlineData(new long[] { 6 })]
    public void Fp8ScalesOfTheWrongShapeAreNamed(long[] shape)
    {
        using var copy = new ModelCopy("tiny-v3-fp8");
        const string name = "model.layers.0.self_attn.q_a_proj.weight_scale_inv";
        copy.ReplaceTensor(name, t => SafeTensorsBuilder.Zeros(name, "F32", shape));
        var e = LoadFails(copy);
        Assert.Contains($"'{name}' has shape [{string.Join(", ", shape)}]", e.Message, StringComparison.Ordinal);
        // [160, 320] in 128x128 blocks: two block rows, three block columns.
        Assert.Contains("[160, 320] in 128x128 blocks needs [2, 3]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NonFiniteFp8ScaleIsNamed()
    {
        using var copy = new ModelCopy("tiny-v3-fp8");
        const string name = "model.layers.1.mlp.experts.0.up_proj.weight_scale_inv";
        copy.ReplaceTensor(name, t => SafeTensorsBuilder.F32(name, [2, 3], 1, 1, 1, float.NaN, 1, 1));
        var e = LoadFails(copy);
        Assert.Contains($"'{name}' holds a non-finite scale at block 3", e.Message, StringComparison.Ordinal);
    }

    private static ModelFormatException LoadFails(ModelCopy copy) =>
        Assert.Throws<ModelFormatException>(() => LoadedModel.Load(copy.Directory).Dispose());
}
