using System.Runtime.InteropServices;
using Fathom.Backends.Cpu;
using Fathom.Core;
using Fathom.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Fathom.Model.Tests;

/// <summary>
/// Checkpoints written by tools/quantized-reference/write_quantized.py (SGLang's w8a8_int8 layout and
/// AutoAWQ's gemm layout, from tiny-v3), not by Fathom's writer: every weight loads in the expected format,
/// the dequantized values equal the script's, the fused kernels agree with the reference backend, and the
/// logits stay near the float model's.
/// </summary>
public sealed class ExternalQuantizedCheckpointTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("tiny-v3-int8", DType.I8)]
    [InlineData("tiny-v3-awq", DType.U4)]
    public void LinearWeightsLoadInTheirFormat(string name, DType expected)
    {
        using var model = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase(name), "model"));
        Assert.Empty(model.Weights.UnusedTensors);
        var layer = model.Weights.Layers[1];
        Assert.Equal(expected, layer.Attention.QA!.Value.Type);
        Assert.Equal(expected, layer.Moe!.Experts[5].Down.Type);
        Assert.Equal(DType.BF16, layer.Moe.Router.Type);
        Assert.Equal(DType.BF16, model.Weights.LmHead.Type);
    }

    [Theory]
    [InlineData("tiny-v3-int8")]
    [InlineData("tiny-v3-awq")]
    public void DequantizedValuesEqualTheScript(string name)
    {
        string folder = TestPaths.GoldenCase(name);
        using var model = LoadedModel.Load(Path.Combine(folder, "model"));
        using var expected = SafeTensorsFile.Open(Path.Combine(folder, "expected.safetensors"));
        var w = model.Weights;
        var matrices = new Dictionary<string, WeightMatrix>
        {
            ["model.layers.0.self_attn.q_b_proj.weight"] = w.Layers[0].Attention.QB!.Value,
            ["model.layers.1.mlp.experts.3.down_proj.weight"] = w.Layers[1].Moe!.Experts[3].Down,
            ["model.layers.2.self_attn.kv_b_proj.weight"] = w.Layers[2].Attention.KvB,
        };
        foreach (var (tensor, m) in matrices)
        {
            var values = MemoryMarshal.Cast<byte, float>(expected.Bytes(expected.Tensors[tensor]));
            var row = new float[m.Cols];
            for (int r = 0; r < m.Rows; r++)
            {
                m.DequantizeRow(r, row);
                for (int c = 0; c < m.Cols; c++)
                {
                    Assert.True(values[(r * m.Cols) + c] == row[c], $"{name} {tensor} ({r}, {c}): {row[c]} vs the script's {values[(r * m.Cols) + c]}");
                }
            }
        }
    }

    [Theory]
    // Random-weight models are fragile (see QuantizedGoldenAccuracyTests): bounds are the measured values with margin.
    [InlineData("tiny-v3-int8", 0.035, 0.88)]  // measured: median 2.4e-2, 431/471 = 91.5% top-1
    [InlineData("tiny-v3-awq", 0.45, 0.42)]    // measured: median 3.7e-1, 229/471 = 48.6% top-1 (4 bits, groups of 32)
    public void LogitsStayNearTheFloatModel(string name, double maxMedian, double minAgreement)
    {
        using var golden = new GoldenCase("tiny-v3");
        using var cpu = new CpuBackend();
        using var model = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase(name), "model"));
        var fast = new Transformer(model, cpu);
        var oracle = new Transformer(model, new ReferenceBackend());
        int vocab = model.Config.VocabSize;
        var againstFloat = new LogitComparison();
        var kernels = new LogitComparison();
        foreach (var (tensor, ids) in golden.Sequences)
        {
            var logits = new float[ids.Length * vocab];
            fast.Forward(ids, fast.CreateCache(ids.Length), logits, LogitsSelection.All);
            againstFloat.Add(logits, golden.Logits(tensor), vocab);
            if (kernels.Positions == 0 && ids.Length >= 16)
            {
                var reference = new float[ids.Length * vocab];
                oracle.Forward(ids, oracle.CreateCache(ids.Length), reference, LogitsSelection.All);
                kernels.Add(logits, reference, vocab);
            }
        }

        output.WriteLine($"{name} vs float: {againstFloat}; cpu vs reference backend: {kernels}");
        Assert.True(kernels.Worst < 1e-4, $"cpu vs reference backend: {kernels}");
        Assert.True(againstFloat.Median <= maxMedian, againstFloat.ToString());
        Assert.True(againstFloat.Agreement >= minAgreement, againstFloat.ToString());
    }

    [Theory]
    [InlineData("tiny-v3-int8")]
    [InlineData("tiny-v3-awq")]
    public void ParameterCountsAreTheFloatModels(string name)
    {
        using var original = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model"));
        using var quantized = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase(name), "model"));
        var a = ModelSummary.Compute(original);
        var b = ModelSummary.Compute(quantized);
        Assert.Equal(a.TotalParameters, b.TotalParameters);
        Assert.Equal(a.ActiveParameters, b.ActiveParameters);
        Assert.True(b.WeightBytes < a.WeightBytes);
    }

    [Fact]
    public void Int8ScaleOfTheWrongShapeIsNamed()
    {
        using var copy = new ModelCopy("tiny-v3-int8");
        const string scale = "model.layers.0.self_attn.o_proj.weight_scale";
        copy.ReplaceTensor(scale, _ => SafeTensorsBuilder.Zeros(scale, "F32", 256, 2));
        var e = Assert.Throws<ModelFormatException>(() => LoadedModel.Load(copy.Directory));
        Assert.Contains($"'{scale}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("[256, 1]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Int8WithoutScalesIsNamed()
    {
        using var copy = new ModelCopy("tiny-v3-int8");
        copy.RemoveTensor("model.layers.0.self_attn.o_proj.weight_scale");
        var e = Assert.Throws<ModelFormatException>(() => LoadedModel.Load(copy.Directory));
        Assert.Contains("'model.layers.0.self_attn.o_proj.weight_scale'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AwqQWeightOfTheWrongShapeIsNamed()
    {
        using var copy = new ModelCopy("tiny-v3-awq");
        const string name = "model.layers.1.mlp.experts.2.up_proj.qweight";
        copy.ReplaceTensor(name, _ => SafeTensorsBuilder.Zeros(name, "I32", 64, 8));
        var e = Assert.Throws<ModelFormatException>(() => LoadedModel.Load(copy.Directory));
        Assert.Contains($"'{name}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("[in = 256, out / 8 = 8]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AwqMissingZerosIsNamed()
    {
        using var copy = new ModelCopy("tiny-v3-awq");
        copy.RemoveTensor("model.layers.3.self_attn.o_proj.qzeros");
        var e = Assert.Throws<ModelFormatException>(() => LoadedModel.Load(copy.Directory));
        Assert.Contains("'model.layers.3.self_attn.o_proj.qzeros'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AwqGroupSizeThatDoesNotDivideIsNamed()
    {
        using var copy = new ModelCopy("tiny-v3-awq");
        copy.EditConfig(c => c["quantization_config"]!["group_size"] = 40);
        var e = Assert.Throws<ModelFormatException>(() => LoadedModel.Load(copy.Directory));
        Assert.Contains("group size 40", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AwqTensorsWithoutAwqConfigAreRefused()
    {
        using var copy = new ModelCopy("tiny-v3-awq");
        copy.EditConfig(c => c.Remove("quantization_config"));
        var e = Assert.Throws<ModelFormatException>(() => LoadedModel.Load(copy.Directory));
        Assert.Contains("quant_method \"awq\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AwqGemvVersionIsRefused()
    {
        using var copy = new ModelCopy("tiny-v3-awq");
        copy.EditConfig(c => c["quantization_config"]!["version"] = "gemv");
        var e = Assert.Throws<ModelFormatException>(() => LoadedModel.Load(copy.Directory));
        Assert.Contains("quantization_config.version", e.Message, StringComparison.Ordinal);
    }
}
