using System.Text.Json;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Cli.Tests;

public sealed class CreateRandomCommandTests
{
    [Theory]
    [InlineData("bf16")]
    [InlineData("fp8")]
    public void TinyModelIsWrittenLoadsAndGenerates(string dtype)
    {
        using var dir = new TempDirectory();
        string model = Path.Combine(dir.Path, "tiny");
        var run = CliRun.Invoke("create-random", "--like", "tiny", "--out", model, "--dtype", dtype, "--seed", "5");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("1,301,256 parameters", run.Out, StringComparison.Ordinal);

        var info = CliRun.Invoke("info", "--model", model, "--json");
        using var facts = JsonDocument.Parse(info.Out);
        Assert.Equal("1,301,256", facts.RootElement.GetProperty("total_parameters").GetString());
        Assert.StartsWith(dtype == "fp8" ? "fp8 e4m3" : "none", facts.RootElement.GetProperty("quantization").GetString(), StringComparison.Ordinal);

        var generate = CliRun.Invoke("generate", "--model", model, "--prompt-ids", "[3,4,5]", "--temperature", "0", "--max-tokens", "6", "--ignore-eos", "--json");
        Assert.Equal(0, generate.ExitCode);
        using var output = JsonDocument.Parse(generate.Out.Trim());
        Assert.Equal(6, output.RootElement.GetProperty("output_ids").GetArrayLength());
    }

    [Fact]
    public void TheSameSeedWritesTheSameBytes()
    {
        using var dir = new TempDirectory();
        string a = Path.Combine(dir.Path, "a"), b = Path.Combine(dir.Path, "b"), c = Path.Combine(dir.Path, "c");
        Assert.Equal(0, CliRun.Invoke("create-random", "--like", "tiny", "--out", a, "--seed", "9").ExitCode);
        Assert.Equal(0, CliRun.Invoke("create-random", "--like", "tiny", "--out", b, "--seed", "9").ExitCode);
        Assert.Equal(0, CliRun.Invoke("create-random", "--like", "tiny", "--out", c, "--seed", "10").ExitCode);
        byte[] first = File.ReadAllBytes(Path.Combine(a, "model.safetensors"));
        Assert.Equal(first, File.ReadAllBytes(Path.Combine(b, "model.safetensors")));
        Assert.NotEqual(first, File.ReadAllBytes(Path.Combine(c, "model.safetensors")));
    }

    [Fact]
    public void FP8WeightsAreTheBf16WeightsOfTheSameSeedRounded()
    {
        using var dir = new TempDirectory();
        string bf16 = Path.Combine(dir.Path, "bf16"), fp8 = Path.Combine(dir.Path, "fp8");
        Assert.Equal(0, CliRun.Invoke("create-random", "--like", "tiny", "--out", bf16, "--seed", "2").ExitCode);
        Assert.Equal(0, CliRun.Invoke("create-random", "--like", "tiny", "--out", fp8, "--seed", "2", "--dtype", "fp8").ExitCode);
        using var a = LoadedModel.Load(bf16);
        using var b = LoadedModel.Load(fp8);
        var exact = a.Weights.Layers[1].Moe!.Experts[3].Down;
        var rounded = b.Weights.Layers[1].Moe!.Experts[3].Down;
        Assert.Equal(Core.DType.F8E4M3, rounded.Type);
        double diff = 0, norm = 0;
        var x = new float[exact.Cols];
        var y = new float[exact.Cols];
        for (int r = 0; r < exact.Rows; r++)
        {
            exact.DequantizeRow(r, x);
            rounded.DequantizeRow(r, y);
            for (int i = 0; i < x.Length; i++)
            {
                diff += (x[i] - y[i]) * (double)(x[i] - y[i]);
                norm += x[i] * (double)x[i];
            }
        }

        // e4m3 keeps 3 mantissa bits: a relative RMS error of a few percent.
        Assert.InRange(Math.Sqrt(diff / norm), 0.005, 0.05);
    }

    [Fact]
    public void ShardSizeSplitsTheCheckpointAndTheIndexLoads()
    {
        using var dir = new TempDirectory();
        var run = CliRun.Invoke("create-random", "--like", "tiny", "--out", dir.Path, "--shard-size", "1MB");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("in 3 file(s)", run.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(dir.File("model.safetensors.index.json")));
        Assert.True(File.Exists(dir.File("model-00003-of-00003.safetensors")));
    }

    [Fact]
    public void AnExistingModelNeedsForce()
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, CliRun.Invoke("create-random", "--like", "tiny", "--out", dir.Path).ExitCode);
        var again = CliRun.Invoke("create-random", "--like", "tiny", "--out", dir.Path);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("--force", again.Error, StringComparison.Ordinal);
        Assert.Equal(0, CliRun.Invoke("create-random", "--like", "tiny", "--out", dir.Path, "--force", "--layers", "3").ExitCode);
        using var model = LoadedModel.Load(dir.Path);
        Assert.Equal(3, model.Config.NumHiddenLayers);
    }

    [Theory]
    [InlineData("--like", "v4", "--like must be one of v2-lite, v3, tiny (got 'v4')")]
    [InlineData("--dtype", "fp16", "--dtype must be bf16 or fp8 (got 'fp16')")]
    [InlineData("--shard-size", "lots", "--shard-size: 'lots' is not a size")]
    [InlineData("--layers", "0", "layers must be at least 1")]
    public void BadOptionsFailWithOneLine(string option, string value, string message)
    {
        using var dir = new TempDirectory();
        string[] args = ["create-random", "--like", "tiny", "--out", dir.Path];
        args = [.. args.Where((a, i) => a != option && (i == 0 || args[i - 1] != option)), option, value];
        var run = CliRun.Invoke(args);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("config.json")));
    }

    [Theory]
    [InlineData("4GB", 4_000_000_000)]
    [InlineData("500MB", 500_000_000)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("1.5 KiB", 1536)]
    [InlineData("123", 123)]
    public void ShardSizesParse(string text, long bytes) =>
        Assert.Equal(bytes, Commands.CreateRandomCommand.ParseSize(text));
}
