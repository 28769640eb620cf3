using System.Text.Json.Nodes;
using Fathom.Backends.Cpu;
using Fathom.Core;
using Fathom.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Fathom.Model.Tests;

/// <summary>
/// `fathom quantize`'s engine on the tiny-v3 golden checkpoint: every format writes a folder that loads in that
/// format and stays near the float model, calibration helps, and every refusal leaves no output folder.
/// </summary>
public sealed class CheckpointQuantizerTests(ITestOutputHelper output)
{
    private static string TinyV3 => Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model");

    [Theory]
    [InlineData(QuantFormat.Int8, DType.I8)]
    [InlineData(QuantFormat.Int4, DType.U4)]
    [InlineData(QuantFormat.Fp8, DType.F8E4M3)]
    public void RoundToNearestWritesALoadableCheckpoint(QuantFormat format, DType expected)
    {
        using var temp = new TempDirectory();
        string target = Path.Combine(temp.Path, "out");
        using var backend = new CpuBackend(2);
        var report = CheckpointQuantizer.Run(new QuantizationRequest(TinyV3, target, format, QuantMethod.Rtn) { GroupSize = 32 }, backend);
        Assert.Equal((4 * 5) + 3 + (3 * 17 * 3), report.QuantizedTensors);
        Assert.Equal(["out"], Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName));

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(target, "config.json")))!;
        string method = format switch { QuantFormat.Int8 => "w8a8_int8", QuantFormat.Int4 => "awq", _ => "fp8" };
        Assert.Equal(method, (string?)config["quantization_config"]!["quant_method"]);
        Assert.True(File.Exists(Path.Combine(target, "model.safetensors.index.json")));

        using var model = LoadedModel.Load(target);
        Assert.Empty(model.Weights.UnusedTensors);
        Assert.Equal(expected, model.Weights.Layers[2].Moe!.Experts[7].Up.Type);
        Assert.Equal(expected, model.Weights.Layers[0].Attention.KvB.Type);
        Assert.Equal(DType.BF16, model.Weights.Layers[2].Moe!.Router.Type);
        Assert.Equal(DType.BF16, model.Weights.Embed.Type);

        var comparison = Compare(model);
        output.WriteLine($"{format}: {comparison}");
        // Random-weight model, measured medians: int8 2.5e-2, fp8 1.0e-1 (3 mantissa bits), int4 3.7e-1.
        double bound = format switch { QuantFormat.Int8 => 0.05, QuantFormat.Fp8 => 0.15, _ => 0.45 };
        Assert.True(comparison.Median < bound, comparison.ToString());
    }

    [Fact]
    public void GptqIsCloserToTheFloatModelThanRounding()
    {
        var errors = MeanErrors(QuantFormat.Int4, QuantMethod.Rtn, QuantMethod.Gptq);
        Assert.True(errors[QuantMethod.Gptq] < errors[QuantMethod.Rtn], $"GPTQ {errors[QuantMethod.Gptq]:E3} vs RTN {errors[QuantMethod.Rtn]:E3}");
    }

    /// <summary>
    /// AWQ rescales channels and folds the inverse into norms, kv_b's value rows, up projections and the router;
    /// any slip there would wreck the logits. On this random-weight model (no outlier channels, random calibration
    /// ids) AWQ cannot be expected to win, but at 8 bits it must stay as close to the float model as rounding.
    /// </summary>
    [Fact]
    public void AwqFoldingKeepsTheModelExact()
    {
        var errors = MeanErrors(QuantFormat.Int8, QuantMethod.Rtn, QuantMethod.Awq);
        Assert.True(errors[QuantMethod.Awq] < 1.3 * errors[QuantMethod.Rtn], $"AWQ {errors[QuantMethod.Awq]:E3} vs RTN {errors[QuantMethod.Rtn]:E3}");
    }

    private Dictionary<QuantMethod, double> MeanErrors(QuantFormat format, params QuantMethod[] methods)
    {
        using var temp = new TempDirectory();
        using var backend = new CpuBackend(2);
        var errors = new Dictionary<QuantMethod, double>();
        foreach (var method in methods)
        {
            string target = Path.Combine(temp.Path, method.ToString());
            CheckpointQuantizer.Run(
                new QuantizationRequest(TinyV3, target, format, method) { GroupSize = 32, CalibrationTokens = CalibrationTokens(4096), SequenceLength = 128, MaxSequences = 32 },
                backend);
            using var model = LoadedModel.Load(target);
            var comparison = Compare(model);
            errors[method] = comparison.Mean;
            output.WriteLine($"{format} {method}: mean relative logit error {comparison.Mean:E3}; {comparison}");
        }

        return errors;
    }

    [Fact]
    public void AnAlreadyQuantizedModelIsRefused()
    {
        using var temp = new TempDirectory();
        string target = Path.Combine(temp.Path, "out");
        var e = Assert.Throws<ArgumentException>(() => CheckpointQuantizer.Run(
            new QuantizationRequest(Path.Combine(TestPaths.GoldenCase("tiny-v3-awq"), "model"), target, QuantFormat.Int8, QuantMethod.Rtn), new ReferenceBackend()));
        Assert.Contains("already quantized (awq)", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void AGroupSizeThatDoesNotDivideNamesTheTensorAndTheWayOut()
    {
        using var temp = new TempDirectory();
        var e = Assert.Throws<ArgumentException>(() => CheckpointQuantizer.Run(
            new QuantizationRequest(TinyV3, Path.Combine(temp.Path, "out"), QuantFormat.Int4, QuantMethod.Rtn) { GroupSize = 128 }, new ReferenceBackend()));
        Assert.Contains("group size 128 does not divide the 96 input features of 'model.layers.0.self_attn.q_b_proj.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("--keep q_b_proj", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void KeptModulesStayInHighPrecisionAndAreListed()
    {
        using var temp = new TempDirectory();
        string target = Path.Combine(temp.Path, "out");
        CheckpointQuantizer.Run(
            new QuantizationRequest(TinyV3, target, QuantFormat.Int4, QuantMethod.Rtn) { GroupSize = 64, Keep = ["q_b_proj", "kv_b_proj", "experts.3."] }, new CpuBackend(1));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(target, "config.json")))!;
        Assert.Equal(["q_b_proj", "kv_b_proj", "experts.3."], config["quantization_config"]!["modules_to_not_convert"]!.AsArray().Select(n => (string?)n));
        using var model = LoadedModel.Load(target);
        Assert.Equal(DType.BF16, model.Weights.Layers[1].Attention.QB!.Value.Type);
        Assert.Equal(DType.BF16, model.Weights.Layers[1].Moe!.Experts[3].Gate.Type);
        Assert.Equal(DType.U4, model.Weights.Layers[1].Moe!.Experts[4].Gate.Type);
    }

    [Fact]
    public void ShortCalibrationIsRefusedWithTheCounts()
    {
        using var temp = new TempDirectory();
        var e = Assert.Throws<ArgumentException>(() => CheckpointQuantizer.Run(
            new QuantizationRequest(TinyV3, Path.Combine(temp.Path, "out"), QuantFormat.Int4, QuantMethod.Gptq) { GroupSize = 32, CalibrationTokens = CalibrationTokens(500) }, new ReferenceBackend()));
        Assert.Contains("500 tokens, at least 1024", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void Fp8OnlyRoundsToNearest()
    {
        var e = Assert.Throws<ArgumentException>(() => CheckpointQuantizer.Run(
            new QuantizationRequest(TinyV3, "unused", QuantFormat.Fp8, QuantMethod.Awq), new ReferenceBackend()));
        Assert.Contains("not available for fp8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnExistingOutputIsNotOverwritten()
    {
        using var temp = new TempDirectory();
        var e = Assert.Throws<ArgumentException>(() => CheckpointQuantizer.Run(
            new QuantizationRequest(TinyV3, temp.Path, QuantFormat.Int8, QuantMethod.Rtn), new ReferenceBackend()));
        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFailureHalfwayLeavesNoFolder()
    {
        using var temp = new TempDirectory();
        var failing = new FailingBackend(new CpuBackend(1), failAfter: 200);
        Assert.Throws<IOException>(() => CheckpointQuantizer.Run(
            new QuantizationRequest(TinyV3, Path.Combine(temp.Path, "out"), QuantFormat.Int4, QuantMethod.Gptq) { GroupSize = 32, CalibrationTokens = CalibrationTokens(2048), SequenceLength = 128 },
            failing));
        Assert.True(failing.Calls > 200);
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    private static int[] CalibrationTokens(int count)
    {
        // Random ids over the tiny vocabulary; deterministic.
        var random = new Random(11);
        return [.. Enumerable.Range(0, count).Select(_ => random.Next(2, 512))];
    }

    private static LogitComparison Compare(LoadedModel model)
    {
        using var golden = new GoldenCase("tiny-v3");
        using var backend = new CpuBackend(2);
        var transformer = new Transformer(model, backend);
        int vocab = model.Config.VocabSize;
        var comparison = new LogitComparison();
        foreach (var (tensor, ids) in golden.Sequences)
        {
            var logits = new float[ids.Length * vocab];
            transformer.Forward(ids, transformer.CreateCache(ids.Length), logits, LogitsSelection.All);
            comparison.Add(logits, golden.Logits(tensor), vocab);
        }

        return comparison;
    }

    /// <summary>Passes everything through, then fails: a disk that fills up or a process that is stopped mid-way.</summary>
    private sealed class FailingBackend(IBackend inner, int failAfter) : IBackend
    {
        public int Calls { get; private set; }

        public string Name => inner.Name;

        public void MatMul(in WeightMatrix weight, ReadOnlySpan<float> x, Span<float> y, int rows)
        {
            if (++Calls > failAfter)
            {
                throw new IOException("simulated failure");
            }

            inner.MatMul(weight, x, y, rows);
        }

        public void MatMulTransposed(in WeightMatrix weight, ReadOnlySpan<float> x, Span<float> y, int rows) => inner.MatMulTransposed(weight, x, y, rows);

        public void Embedding(in WeightMatrix table, ReadOnlySpan<int> ids, Span<float> y) => inner.Embedding(table, ids, y);

        public void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y) => inner.RmsNorm(x, weight, eps, y);

        public void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y) => inner.SiluMul(gate, up, y);

        public void ScaleAdd(ReadOnlySpan<float> x, float a, Span<float> y) => inner.ScaleAdd(x, a, y);

        public void Softmax(Span<float> x) => inner.Softmax(x);

        public void RopeInterleaved(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin) => inner.RopeInterleaved(x, cos, sin);
    }
}
