using System.Text.Json;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Cli.Tests;

/// <summary>`fathom quantize` and `fathom eval` end to end on the tiny chat model (tiny-v3 with a byte tokenizer).</summary>
public sealed class QuantizeCommandTests
{
    private static string Text(int sentences) =>
        string.Concat(Enumerable.Range(0, sentences).Select(i => $"Sentence {i}: the quick brown fox jumps over the lazy dog. "));

    [Fact]
    public void QuantizeWithCalibrationThenEvalAgainstTheOriginal()
    {
        using var model = new TinyChatModel();
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("calib.txt"), Text(40));
        File.WriteAllText(temp.File("eval.txt"), Text(6));
        string output = temp.File("awq");
        var run = CliRun.Invoke("quantize", "--model", model.Directory, "--out", output, "--format", "int4", "--method", "awq", "--group-size", "32", "--calibration", temp.File("calib.txt"), "--json");
        Assert.True(run.ExitCode == 0, run.Error);
        using (var doc = JsonDocument.Parse(run.Out))
        {
            Assert.Equal("int4", doc.RootElement.GetProperty("format").GetString());
            Assert.Equal(176, doc.RootElement.GetProperty("quantized_tensors").GetInt32());
            Assert.True(doc.RootElement.GetProperty("calibration_tokens").GetInt32() >= 1024);
        }

        Assert.True(File.Exists(Path.Combine(output, "tokenizer.json")));

        var eval = CliRun.Invoke("eval", "--model", output, "--reference", model.Directory, "--text", temp.File("eval.txt"), "--window", "128", "--stride", "64", "--json");
        Assert.True(eval.ExitCode == 0, eval.Error);
        using var report = JsonDocument.Parse(eval.Out);
        var r = report.RootElement;
        // [BOS] + one token per byte: every byte is a scored target.
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(Text(6)), r.GetProperty("tokens").GetInt32());
        double cosine = r.GetProperty("cosine_mean").GetDouble();
        Assert.InRange(cosine, 0.5, 1.0);
        Assert.True(r.GetProperty("cosine_worst").GetDouble() <= cosine);
        Assert.InRange(r.GetProperty("top1_agreement").GetDouble(), 0.0, 1.0);
        Assert.True(r.GetProperty("kl_divergence").GetDouble() > 0);
        Assert.True(r.GetProperty("relative_error_mean").GetDouble() > 0);
        Assert.True(double.IsFinite(r.GetProperty("perplexity").GetDouble()));

        // The model against itself: identical logits.
        var self = CliRun.Invoke("eval", "--model", model.Directory, "--reference", model.Directory, "--text", temp.File("eval.txt"), "--window", "128", "--stride", "64", "--json");
        using var same = JsonDocument.Parse(self.Out);
        Assert.Equal(1.0, same.RootElement.GetProperty("top1_agreement").GetDouble());
        Assert.Equal(0.0, same.RootElement.GetProperty("kl_divergence").GetDouble(), 1e-9);
        Assert.Equal(0.0, same.RootElement.GetProperty("relative_error_worst").GetDouble());
    }

    [Fact]
    public void EvalPrintsOneReport()
    {
        using var model = new TinyChatModel();
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("eval.txt"), Text(3));
        var run = CliRun.Invoke("eval", "--model", model.Directory, "--reference", model.Directory, "--text", temp.File("eval.txt"), "--window", "128", "--stride", "64");
        Assert.True(run.ExitCode == 0, run.Error);
        foreach (string line in new[] { "perplexity", "reference perplexity", "cosine similarity", "relative error", "top-1 agreement", "KL(reference‖model)" })
        {
            Assert.Contains(line, run.Out, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("int3", "rtn", "--format must be int8, int4 or fp8 (got 'int3')")]
    [InlineData("int4", "smooth", "--method must be rtn, awq or gptq (got 'smooth')")]
    [InlineData("int4", "rtn", "group size 48 does not divide the 256 input features")]
    [InlineData("fp8", "gptq", "not available for fp8")]
    public void BadRequestsExitWithOneClearLineAndNoFolder(string format, string method, string message)
    {
        using var model = new TinyChatModel();
        using var temp = new TempDirectory();
        var run = CliRun.Invoke("quantize", "--model", model.Directory, "--out", temp.File("out"), "--format", format, "--method", method, "--group-size", "48");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void MissingAndShortCalibrationFilesAreNamed()
    {
        using var model = new TinyChatModel();
        using var temp = new TempDirectory();
        var missing = CliRun.Invoke("quantize", "--model", model.Directory, "--out", temp.File("out"), "--format", "int8", "--method", "gptq", "--calibration", temp.File("nope.txt"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains($"--calibration: file '{temp.File("nope.txt")}' not found", missing.Error, StringComparison.Ordinal);

        var none = CliRun.Invoke("quantize", "--model", model.Directory, "--out", temp.File("out"), "--format", "int8", "--method", "awq");
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("needs calibration text", none.Error, StringComparison.Ordinal);

        File.WriteAllText(temp.File("short.txt"), "too short");
        var shortText = CliRun.Invoke("quantize", "--model", model.Directory, "--out", temp.File("out"), "--format", "int8", "--method", "gptq", "--calibration", temp.File("short.txt"));
        Assert.Equal(1, shortText.ExitCode);
        Assert.Contains("too short: 9 tokens, at least 1024", shortText.Error, StringComparison.Ordinal);
        Assert.Equal(["short.txt"], Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void AQuantizedModelCannotBeQuantizedAgain()
    {
        using var model = new TinyChatModel();
        using var temp = new TempDirectory();
        Assert.Equal(0, CliRun.Invoke("quantize", "--model", model.Directory, "--out", temp.File("int8"), "--format", "int8").ExitCode);
        var again = CliRun.Invoke("quantize", "--model", temp.File("int8"), "--out", temp.File("int4"), "--format", "int4", "--group-size", "32");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already quantized (w8a8_int8)", again.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.File("int4")));
    }
}
