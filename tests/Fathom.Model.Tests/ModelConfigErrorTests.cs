using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>An unusable config.json fails to load with a ModelFormatException naming the file and the field.</summary>
public sealed class ModelConfigErrorTests
{
    [Fact]
    public void MissingConfigFails()
    {
        using var temp = new TempDirectory();
        string path = temp.File("config.json");
        var e = Assert.Throws<ModelFormatException>(() => ModelConfig.Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("not found", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"hidden_size\": 256,")]
    [InlineData("")]
    [InlineData("{'hidden_size': 256}")]
    public void InvalidJsonFails(string text)
    {
        using var temp = new TempDirectory();
        string path = temp.File("config.json");
        File.WriteAllText(path, text);
        var e = Assert.Throws<ModelFormatException>(() => ModelConfig.Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("invalid JSON", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TopLevelArrayFails()
    {
        using var temp = new TempDirectory();
        string path = temp.File("config.json");
        File.WriteAllText(path, "[{\"hidden_size\": 256}]");
        var e = Assert.Throws<ModelFormatException>(() => ModelConfig.Load(path));
        Assert.Contains("JSON object", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hidden_size", null, "hidden_size", "is missing")]
    [InlineData("vocab_size", null, "vocab_size", "is missing")]
    [InlineData("kv_lora_rank", null, "kv_lora_rank", "is missing")]
    [InlineData("model_type", null, "model_type", "is missing")]
    [InlineData("model_type", "\"llama\"", "model_type", "'llama' is not supported")]
    [InlineData("model_type", "3", "model_type", "must be a string")]
    [InlineData("hidden_size", "256.5", "hidden_size", "must be an integer (got 256.5)")]
    [InlineData("hidden_size", "\"256\"", "hidden_size", "must be an integer")]
    [InlineData("num_hidden_layers", "true", "num_hidden_layers", "must be an integer")]
    [InlineData("hidden_size", "0", "hidden_size", "must be positive (got 0)")]
    [InlineData("vocab_size", "-1", "vocab_size", "must be positive (got -1)")]
    [InlineData("num_attention_heads", "-4", "num_attention_heads", "must be positive")]
    [InlineData("num_hidden_layers", "0", "num_hidden_layers", "must be positive")]
    [InlineData("kv_lora_rank", "0", "kv_lora_rank", "must be positive")]
    [InlineData("q_lora_rank", "0", "q_lora_rank", "must be null or positive")]
    [InlineData("qk_rope_head_dim", "15", "qk_rope_head_dim", "must be positive and even (got 15)")]
    [InlineData("v_head_dim", "0", "v_head_dim", "must be positive")]
    [InlineData("moe_intermediate_size", "0", "moe_intermediate_size", "must be positive")]
    [InlineData("intermediate_size", "-512", "intermediate_size", "must be positive")]
    [InlineData("max_position_embeddings", "0", "max_position_embeddings", "must be positive")]
    [InlineData("rms_norm_eps", "0", "rms_norm_eps", "must be positive")]
    [InlineData("rms_norm_eps", "\"1e-6\"", "rms_norm_eps", "must be a number")]
    [InlineData("norm_topk_prob", "1", "norm_topk_prob", "must be true or false")]
    [InlineData("num_experts_per_tok", "17", "num_experts_per_tok", "must be in [1, n_routed_experts = 16] (got 17)")]
    [InlineData("num_experts_per_tok", "0", "num_experts_per_tok", "must be in [1, n_routed_experts = 16]")]
    [InlineData("n_group", "3", "n_group", "must divide n_routed_experts = 16 (got 3)")]
    [InlineData("topk_group", "5", "topk_group", "must be in [1, n_group = 4] (got 5)")]
    [InlineData("scoring_func", "\"tanh\"", "scoring_func", "'tanh' is not supported")]
    [InlineData("topk_method", "\"random\"", "topk_method", "'random' is not supported")]
    [InlineData("routed_scaling_factor", "0", "routed_scaling_factor", "must be positive")]
    [InlineData("eos_token_id", "512", "eos_token_id", "512 is outside the vocabulary [0, 512)")]
    [InlineData("eos_token_id", "[1, -1]", "eos_token_id", "-1 is outside the vocabulary")]
    [InlineData("eos_token_id", "\"</s>\"", "eos_token_id", "expected an integer or a list of integers")]
    [InlineData("eos_token_id", "[\"</s>\"]", "eos_token_id", "expected integers")]
    [InlineData("eos_token_id", "[1.5]", "eos_token_id", "expected integers")]
    [InlineData("bos_token_id", "9999", "bos_token_id", "9999 is outside the vocabulary")]
    public void InvalidFieldIsNamed(string field, string? json, string named, string complaint)
    {
        using var config = new ConfigJson().Set(field, json);
        AssertFails(config, named, complaint);
    }

    [Fact]
    public void MoreExpertsPerTokenThanTheKeptGroupsHoldFails()
    {
        // 16 experts in 4 groups of 4, 1 group kept: at most 4 experts can be chosen.
        using var config = new ConfigJson().Set("topk_group", "1").Set("num_experts_per_tok", "5");
        AssertFails(config, "num_experts_per_tok", "exceeds the experts in topk_group = 1 groups");
    }

    [Theory]
    [InlineData("""{"type": "linear", "factor": 4.0}""", "rope_scaling.type", "'linear' is not supported")]
    [InlineData("""{"type": "dynamic", "factor": 4.0}""", "rope_scaling.type", "'dynamic' is not supported")]
    [InlineData("""{"type": "yarn", "original_max_position_embeddings": 128}""", "rope_scaling.factor", "missing")]
    [InlineData("""{"type": "yarn", "factor": 4.0}""", "rope_scaling.original_max_position_embeddings", "missing")]
    [InlineData("""{"type": "yarn", "factor": -4.0, "original_max_position_embeddings": 128}""", "rope_scaling", "must be positive")]
    [InlineData("""{"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 128, "beta_fast": 0}""", "rope_scaling", "must be positive")]
    public void InvalidRopeScalingIsNamed(string scaling, string named, string complaint)
    {
        using var config = new ConfigJson().Set("rope_scaling", scaling);
        AssertFails(config, named, complaint);
    }

    [Fact]
    public void UnknownRopeParametersTypeIsNamed()
    {
        using var config = new ConfigJson().Set("rope_scaling", null).Set("rope_parameters", """{"rope_type": "longrope", "rope_theta": 10000.0}""");
        AssertFails(config, "rope_parameters.type", "'longrope' is not supported");
    }

    [Theory]
    [InlineData("""{"quant_method": "gptq", "bits": 4}""", "quantization_config.quant_method", "'gptq' is not supported (expected fp8, w8a8_int8 or awq)")]
    [InlineData("""{"quant_method": "awq", "bits": 8, "group_size": 128}""", "quantization_config.bits", "only 4-bit AWQ")]
    [InlineData("""{"quant_method": "awq", "bits": 4}""", "quantization_config.group_size", "missing")]
    [InlineData("""{"quant_method": "awq", "bits": 4, "group_size": 100}""", "quantization_config.group_size", "multiple of 8")]
    [InlineData("""{"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": false}""", "quantization_config.zero_point", "only AWQ with zero points")]
    [InlineData("""{"quant_method": "fp8", "fmt": "e5m2"}""", "quantization_config.fmt", "'e5m2' is not supported")]
    [InlineData("""{"fmt": "e4m3"}""", "quantization_config.quant_method", "missing")]
    [InlineData("""{"quant_method": "fp8", "weight_block_size": [128]}""", "quantization_config.weight_block_size", "two positive integers")]
    [InlineData("""{"quant_method": "fp8", "weight_block_size": [0, 128]}""", "quantization_config.weight_block_size", "two positive integers")]
    [InlineData("""{"quant_method": "fp8", "weight_block_size": ["128", "128"]}""", "quantization_config.weight_block_size", "two positive integers")]
    public void InvalidQuantizationConfigIsNamed(string quantization, string named, string complaint)
    {
        using var config = new ConfigJson().Set("quantization_config", quantization);
        AssertFails(config, named, complaint);
    }

    private static void AssertFails(ConfigJson config, string field, string complaint)
    {
        var e = Assert.Throws<ModelFormatException>(config.Load);
        Assert.Contains(config.Path, e.Message, StringComparison.Ordinal);
        Assert.Contains($"field '{field}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(complaint, e.Message, StringComparison.Ordinal);
    }
}
