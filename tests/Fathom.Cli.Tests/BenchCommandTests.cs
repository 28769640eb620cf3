using System.Text.Json;
using Fathom.Engine;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Cli.Tests;

public sealed class BenchCommandTests
{
    private static readonly string TinyV3 = Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model");
    private static readonly string TinyV3Fp8 = Path.Combine(TestPaths.GoldenCase("tiny-v3-fp8"), "model");
    private static readonly string TinyV2Lite = Path.Combine(TestPaths.GoldenCase("tiny-v2-lite"), "model");

    [Fact]
    public void JsonLineHasTheMeasurementsAndTheMachine()
    {
        var run = CliRun.Invoke("bench", "--model", TinyV3, "-p", "32", "-n", "8", "-r", "2", "--threads", "2", "--json");
        Assert.Equal(0, run.ExitCode);
        Assert.Single(run.Out.Trim().Split('\n'));
        using var doc = JsonDocument.Parse(run.Out);
        var r = doc.RootElement;
        Assert.True(r.GetProperty("prefill_tokens_per_s").GetDouble() > 0);
        Assert.True(r.GetProperty("decode_tokens_per_s").GetDouble() > 0);
        Assert.True(r.GetProperty("peak_rss_bytes").GetInt64() > 0);
        Assert.True(r.GetProperty("weight_bytes_per_token").GetInt64() > 0);
        Assert.Equal(2, r.GetProperty("prefill_tokens_per_s_runs").GetArrayLength());
        Assert.Equal(2, r.GetProperty("decode_tokens_per_s_runs").GetArrayLength());
        Assert.InRange(r.GetProperty("decode_tokens_per_s").GetDouble(), r.GetProperty("decode_tokens_per_s_min").GetDouble(), r.GetProperty("decode_tokens_per_s_max").GetDouble());
        Assert.Equal("bf16", r.GetProperty("format").GetString());
        Assert.Equal("memory", r.GetProperty("load").GetString()); // --load auto: a small model is read into memory
        Assert.Equal(2, r.GetProperty("threads").GetInt32());
        Assert.Equal(32, r.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(8, r.GetProperty("gen_tokens").GetInt32());
        Assert.Equal("model", r.GetProperty("model_name").GetString());
        Assert.Equal(Environment.ProcessorCount, r.GetProperty("machine").GetProperty("logical_cores").GetInt32());
        Assert.False(string.IsNullOrEmpty(r.GetProperty("machine").GetProperty("cpu").GetString()));
        Assert.Contains("repetition 2/2", run.Error, StringComparison.Ordinal);
        Assert.Equal(2, r.GetProperty("decode_other_cpu_runs").GetArrayLength());
        if (OperatingSystem.IsLinux())
        {
            // A run shorter than one clock tick (10 ms) has no measurable share: null.
            Assert.All(r.GetProperty("decode_other_cpu_runs").EnumerateArray(), v => Assert.True(v.ValueKind == JsonValueKind.Null || v.GetDouble() is >= 0 and <= 1));
        }
    }

    [Fact]
    public void OutputFileHoldsTheSameReportIndented()
    {
        using var dir = new TempDirectory();
        string file = Path.Combine(dir.Path, "results", "tiny.json");
        var run = CliRun.Invoke("bench", "--model", TinyV3Fp8, "-p", "16", "-n", "4", "-r", "1", "--load", "memory", "--output", file);
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("prefill    16 tokens", run.Out, StringComparison.Ordinal);
        Assert.Contains("decode     4 tokens", run.Out, StringComparison.Ordinal);
        string text = File.ReadAllText(file);
        Assert.Contains("\n  \"format\": \"fp8\"", text, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(text);
        Assert.Equal("memory", doc.RootElement.GetProperty("load").GetString());
        Assert.True(doc.RootElement.GetProperty("linear_weight_bytes_by_type").GetProperty("F8_E4M3").GetInt64() > 0);
    }

    [Fact]
    public void SkippedTestsReportNull()
    {
        var run = CliRun.Invoke("bench", "--model", TinyV3, "-p", "0", "-n", "4", "-r", "1", "--no-warmup", "--json");
        Assert.Equal(0, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Out);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("prefill_tokens_per_s").ValueKind);
        Assert.True(doc.RootElement.GetProperty("decode_tokens_per_s").GetDouble() > 0);
    }

    [Theory]
    [InlineData("-p", "600", "exceeds the model's max_position_embeddings 512")]
    [InlineData("-r", "0", "repetitions must be at least 1")]
    [InlineData("-n", "-1", "must not be negative")]
    public void ImpossibleSettingsFailWithOneLine(string option, string value, string message)
    {
        var run = CliRun.Invoke("bench", "--model", TinyV3, option, value);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_k")]
    [InlineData("fp8")]
    public void QuantizeIsPassedToTheLoaderAndReportedAsTheFormat(string format)
    {
        var run = CliRun.Invoke("bench", "--model", TinyV3, "--quantize", format, "-p", "8", "-n", "2", "-r", "1", "--json");
        Assert.True(run.ExitCode == 0, run.Error);
        using var doc = JsonDocument.Parse(run.Out);
        Assert.Equal(format, doc.RootElement.GetProperty("format").GetString());
        Assert.Equal(format, doc.RootElement.GetProperty("quantize").GetString());
    }

    [Fact]
    public void WeightTrafficCountsDenseWeightsTheRoutedShareAndOneEmbeddingRow()
    {
        // tiny-v2-lite: hidden 256, vocab 512, 3 layers (1 dense + 2 MoE), plain q_proj, 4 heads of 32+16 / v 32,
        // kv_lora 64, inter 512, 12 experts of 64 (top 3) + 2 shared, all BF16.
        using var model = LoadedModel.Load(TinyV2Lite);
        var traffic = BenchmarkWeightTraffic.Compute(model.Weights, model.Config);
        const long h = 256, bf = 2, f32 = 4;
        long attention = ((4 * 48 * h) + (80 * h) + (4 * 64 * 64) + (h * 4 * 32)) * bf;
        long norms = ((2 * h) + 64) * f32;
        long dense = 3 * 512 * h * bf;
        long moeFixed = ((12 * h) + (3 * 128 * h)) * bf;
        long routed = 3 * 64 * h * bf * 12 * 3 / 12;
        long expected = (3 * (attention + norms)) + dense + (2 * moeFixed) + (2 * routed) + (h * f32) + (512 * h * bf) + (h * bf);
        Assert.Equal(expected, traffic.BytesPerToken);
        Assert.Equal(2 * routed, traffic.RoutedBytesPerToken);
        Assert.Equal(h * bf, traffic.EmbeddingRowBytes);
        Assert.Equal(Core.DType.BF16, traffic.Format);
    }

    [Fact]
    public void WeightTrafficCountsFp8BlockScales()
    {
        using var model = LoadedModel.Load(TinyV3Fp8);
        var traffic = BenchmarkWeightTraffic.Compute(model.Weights, model.Config);
        Assert.Equal(Core.DType.F8E4M3, traffic.Format);
        var o = model.Weights.Layers[0].Attention.O;
        long blocks = (long)((o.Rows + 127) / 128) * ((o.Cols + 127) / 128);
        Assert.Equal(o.StorageBytes + (blocks * 4), BenchmarkWeightTraffic.Bytes(o));
        // Against the checkpoint accounting of `fathom info`: the same tensors, up to norms stored as BF16 there and float32 here.
        long summary = ModelSummary.Compute(model).ActiveWeightBytes;
        Assert.InRange(traffic.BytesPerToken, summary * 0.99, summary * 1.02);
    }

    [Fact]
    public void MemoryBandwidthReportsTriadAndRead()
    {
        var run = CliRun.Invoke("bench-memory", "--threads", "2", "--size-mib", "8", "-r", "2", "--json");
        Assert.Equal(0, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Out);
        var r = doc.RootElement;
        Assert.True(r.GetProperty("triad_bytes_per_s").GetDouble() > 1e8);
        Assert.True(r.GetProperty("read_bytes_per_s").GetDouble() > 1e8);
        Assert.Equal(8L << 20, r.GetProperty("array_bytes").GetInt64());
        Assert.Equal(2, r.GetProperty("threads").GetInt32());
        Assert.Equal(2, r.GetProperty("triad_bytes_per_s_runs").GetArrayLength());
    }

    [Fact]
    public void BenchRunsOnACreatedRandomModel()
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, CliRun.Invoke("create-random", "--like", "tiny", "--out", dir.Path, "--dtype", "fp8").ExitCode);
        var run = CliRun.Invoke("bench", "--model", dir.Path, "-p", "16", "-n", "4", "-r", "1", "--json");
        Assert.Equal(0, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Out);
        Assert.Equal("fp8", doc.RootElement.GetProperty("format").GetString());
        Assert.Equal(1_301_256, doc.RootElement.GetProperty("parameters").GetInt64());
    }
}
