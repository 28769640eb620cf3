using System.Runtime.InteropServices;
using System.Text.Json;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Cli.Tests;

public sealed class GenerateCommandTests
{
    private static readonly string TinyV3 = Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model");

    [Fact]
    public void LoadTimeQuantizationDrawsItsProgressOnATerminalOnly()
    {
        string[] args = ["generate", "--model", TinyV3, "--quantize", "q4_k", "--prompt-ids", "[111, 466]", "--max-tokens", "2", "--temperature", "0"];
        var terminal = CliRun.Interactive(args);
        Assert.True(terminal.ExitCode == 0, terminal.Error);
        var lines = terminal.Error.Split('\r', '\n').Where(l => l.Contains("quantizing Q4_K", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count >= 2, terminal.Error);
        // From nothing done to every row done, the same total throughout.
        var counts = lines.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"\] (\d+)/(\d+) ")).ToList();
        Assert.All(counts, m => Assert.True(m.Success));
        Assert.Equal("0", counts[0].Groups[1].Value);
        Assert.Equal(counts[^1].Groups[2].Value, counts[^1].Groups[1].Value);
        Assert.Single(counts.Select(m => m.Groups[2].Value).Distinct());

        var piped = CliRun.Invoke(args);
        Assert.True(piped.ExitCode == 0, piped.Error);
        Assert.DoesNotContain("quantizing", piped.Error, StringComparison.Ordinal);
        Assert.Equal(terminal.Out, piped.Out);
    }

    [Fact]
    public void GreedyPromptIdsReproduceTheGoldenContinuationAsJson()
    {
        var run = CliRun.Invoke("generate", "--model", TinyV3, "--prompt-ids", "[111, 466, 210, 327, 178]", "--temperature", "0", "--max-tokens", "24", "--ignore-eos", "--json");
        Assert.Equal(0, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Out.Trim());
        int[] ids = [.. doc.RootElement.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32())];
        Assert.Equal([143, 462, 374, 360, 52, 132, 499, 462, 456, 1, 43, 19, 15, 133, 424, 163, 314, 77, 374, 139, 16, 415, 207, 163], ids);
        Assert.Equal("length", doc.RootElement.GetProperty("finish_reason").GetString());
        Assert.Single(run.Out.Trim().Split('\n'));
    }

    [Fact]
    public void WithoutIgnoreEosGenerationStopsAtEos()
    {
        var run = CliRun.Invoke("generate", "--model", TinyV3, "--prompt-ids", "[111,466,210,327,178]", "--temperature", "0", "--json");
        using var doc = JsonDocument.Parse(run.Out.Trim());
        Assert.Equal(10, doc.RootElement.GetProperty("output_ids").GetArrayLength());
        Assert.Equal("stop", doc.RootElement.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public void TheSameSeedGivesTheSameSample()
    {
        string[] args = ["generate", "--model", TinyV3, "--prompt-ids", "[5,6,7]", "--temperature", "1", "--seed", "1234", "--max-tokens", "16", "--ignore-eos", "--json"];
        var a = CliRun.Invoke(args);
        var b = CliRun.Invoke(args);
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(a.Out, b.Out);
    }

    [Fact]
    public void TextPromptStreamsThroughTheTokenizer()
    {
        using var model = new TinyChatModel();
        var run = CliRun.Invoke("generate", "--model", model.Directory, "Hello", "--temperature", "0", "--max-tokens", "8", "--ignore-eos");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("generated at", run.Error, StringComparison.Ordinal);
        var json = CliRun.Invoke("generate", "--model", model.Directory, "Hello", "--temperature", "0", "--max-tokens", "8", "--ignore-eos", "--json");
        using var doc = JsonDocument.Parse(json.Out.Trim());
        // Streaming printed exactly the final text (plus the closing newline).
        Assert.Equal(doc.RootElement.GetProperty("text").GetString() + Environment.NewLine, run.Out);
    }

    [Fact]
    public void StopStringsEndGenerationAndAreNotPrinted()
    {
        using var model = new TinyChatModel();
        var full = CliRun.Invoke("generate", "--model", model.Directory, "Hello", "--temperature", "0", "--max-tokens", "12", "--ignore-eos", "--json");
        string text = JsonDocument.Parse(full.Out.Trim()).RootElement.GetProperty("text").GetString()!;
        Assert.True(text.Length >= 4, "the fixture should produce some text");
        string stop = text.Substring(2, 2);
        var cut = CliRun.Invoke("generate", "--model", model.Directory, "Hello", "--temperature", "0", "--max-tokens", "12", "--ignore-eos", "--json", "--stop", stop);
        using var doc = JsonDocument.Parse(cut.Out.Trim());
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], doc.RootElement.GetProperty("text").GetString());
        Assert.Equal("stop", doc.RootElement.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public void ATextPromptWithoutATokenizerIsAClearError()
    {
        var run = CliRun.Invoke("generate", "--model", TinyV3, "Hello");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tokenizer.json", run.Error, StringComparison.Ordinal);
        Assert.Contains("--prompt-ids", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--prompt-ids", "[1,2", "--prompt-ids")]
    [InlineData("--prompt-ids", "[]", "--prompt-ids")]
    [InlineData("--prompt-ids", "[1, 9999]", "9999")]
    [InlineData("--temperature", "-1", "temperature")]
    [InlineData("--top-p", "0", "top-p")]
    [InlineData("--max-tokens", "0", "--max-tokens")]
    public void BadArgumentsAreNamed(string option, string value, string named)
    {
        string[] args = option == "--prompt-ids"
            ? ["generate", "--model", TinyV3, option, value]
            : ["generate", "--model", TinyV3, "--prompt-ids", "[1,2]", option, value];
        var run = CliRun.Invoke(args);
        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("error: ", run.Error, StringComparison.Ordinal);
        Assert.Contains(named, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingModelFolderIsNamed()
    {
        var run = CliRun.Invoke("generate", "--model", "/nonexistent/model", "--prompt-ids", "[1]");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("/nonexistent/model", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void NeitherPromptNorIdsIsAnError()
    {
        var run = CliRun.Invoke("generate", "--model", TinyV3);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--prompt-ids", run.Error, StringComparison.Ordinal);
    }
}

public sealed class ChatCommandTests
{
    [Fact]
    public void AConversationStreamsRepliesAndHonoursResetAndExit()
    {
        using var model = new TinyChatModel();
        var run = CliRun.WithInput("Hello\n\nHow are you?\n/reset\nHi\n/exit\nnever read\n", "chat", "--model", model.Directory, "--temperature", "0", "--max-tokens", "6", "--system", "Be brief.");
        Assert.Equal(0, run.ExitCode);
        // Prompts for: Hello, the blank line, How are you?, /reset, Hi, /exit; nothing after /exit is read.
        Assert.Equal(6, run.Out.Split(">>> ").Length - 1);
        Assert.Contains("(conversation cleared)", run.Out, StringComparison.Ordinal);
        Assert.Contains("/reset", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("never read", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void TheFirstReplyAfterResetEqualsAFreshConversation()
    {
        using var model = new TinyChatModel();
        string[] args = ["chat", "--model", model.Directory, "--temperature", "0", "--max-tokens", "6"];
        var fresh = CliRun.WithInput("Hi\n", args);
        var afterReset = CliRun.WithInput("Hello there\n/reset\nHi\n", args);
        string Reply(string output, int turn) => output.Split(">>> ")[turn];
        Assert.Equal(Reply(fresh.Out, 1), Reply(afterReset.Out, 3));
    }

    [Fact]
    public void AModelWithoutATokenizerCannotChat()
    {
        var run = CliRun.WithInput("Hi\n", "chat", "--model", Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model"));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tokenizer.json", run.Error, StringComparison.Ordinal);
    }
}

public sealed class InfoCommandTests
{
    [Fact]
    public void DescribesArchitectureParametersAndMemory()
    {
        var run = CliRun.Invoke("info", "--model", Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model"));
        Assert.True(run.ExitCode == 0, run.Error);
        foreach (string expected in new[] { "deepseek_v3", "4 (1 dense, 3 MoE)", "q_lora_rank 96", "kv_lora_rank 64", "16 routed (top 4) + 1 shared", "noaux_tc", "YaRN factor 4", "total_parameters", "active_parameters", "BF16", "kv_cache", "memory_estimate" })
        {
            Assert.Contains(expected, run.Out, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void CountsMatchTheCheckpoint()
    {
        var run = CliRun.Invoke("info", "--model", Path.Combine(TestPaths.GoldenCase("tiny-v3-fp8"), "model"), "--json");
        Assert.Equal(0, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Out);
        Assert.Contains("fp8 e4m3, 128x128", doc.RootElement.GetProperty("quantization").GetString(), StringComparison.Ordinal);
        Assert.Contains("F8_E4M3", doc.RootElement.GetProperty("weights").GetString(), StringComparison.Ordinal);
        // kv_cache: (96 latent + 16 rope) × 3 layers × 4 bytes
        Assert.StartsWith("1,344 bytes", doc.RootElement.GetProperty("kv_cache").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ADamagedCheckpointIsReportedNotThrown()
    {
        using var temp = new TempDirectory();
        File.Copy(Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model", "config.json"), temp.File("config.json"));
        File.WriteAllBytes(temp.File("model.safetensors"), [1, 2, 3]);
        var run = CliRun.Invoke("info", "--model", temp.Path);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("model.safetensors", run.Error, StringComparison.Ordinal);
        Assert.Contains("truncated", run.Error, StringComparison.Ordinal);
    }
}

public sealed class TokenizeCommandTests
{
    [Fact]
    public void StdinIsTokenizedVerbatimWithBos()
    {
        var run = CliRun.WithInput("  Hello, my dog is cute\n", "tokenize", "--tokenizer", TestPaths.DeepSeekV3Tokenizer);
        Assert.Equal(0, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Out);
        int[] ids = [.. doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
        Assert.Equal(0, ids[0]);
        Assert.Equal(201, ids[^1]); // the trailing newline is kept
    }

    [Fact]
    public void NoBosGivesThePlainIds()
    {
        var run = CliRun.WithInput("Hello, my dog is cute", "tokenize", "--tokenizer", TestPaths.DeepSeekV3Tokenizer, "--no-bos");
        using var doc = JsonDocument.Parse(run.Out);
        Assert.Equal([19923, 14, 1026, 6397, 344, 33125], doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public void ChatMessagesRenderThroughTheTemplate()
    {
        string messages = """[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is 2+2?"}]""";
        var run = CliRun.WithInput(messages, "tokenize", "--tokenizer", TestPaths.DeepSeekV3Tokenizer, "--chat");
        Assert.Equal(0, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Out);
        Assert.Equal("<｜begin▁of▁sentence｜>You are a helpful assistant.<｜User｜>What is 2+2?<｜Assistant｜>", doc.RootElement.GetProperty("prompt").GetString());
        Assert.Equal([0, 3476, 477, 260, 11502, 22896, 16, 128803, 3085, 344, 223, 20, 13, 20, 33, 128804], doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"role\":\"user\"}")]
    [InlineData("[{\"content\":\"hi\"}]")]
    public void BadChatInputIsNamed(string stdin)
    {
        var run = CliRun.WithInput(stdin, "tokenize", "--tokenizer", TestPaths.DeepSeekV3Tokenizer, "--chat");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--chat", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void AFolderWithoutTokenizerJsonIsNamed()
    {
        using var temp = new TempDirectory();
        var run = CliRun.WithInput("hi", "tokenize", "--tokenizer", temp.Path);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tokenizer.json", run.Error, StringComparison.Ordinal);
    }
}

public sealed class LogitsCommandTests
{
    [Fact]
    public void WritesEverySequencesLogitsMatchingTheGolden()
    {
        using var temp = new TempDirectory();
        string golden = TestPaths.GoldenCase("tiny-v2-lite");
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(golden, "golden.json")).Replace("Infinity", "1e308", StringComparison.Ordinal));
        var sequences = doc.RootElement.GetProperty("sequences").EnumerateArray().Take(3).Select(s => s.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        File.WriteAllText(temp.File("ids.json"), JsonSerializer.Serialize(sequences));
        var run = CliRun.Invoke("logits", "--model", Path.Combine(golden, "model"), "--input", temp.File("ids.json"), "--output", temp.File("out.safetensors"));
        Assert.Equal(0, run.ExitCode);
        using var written = SafeTensorsFile.Open(temp.File("out.safetensors"));
        using var reference = SafeTensorsFile.Open(Path.Combine(golden, "golden.safetensors"));
        for (int i = 0; i < sequences.Length; i++)
        {
            var entry = written.Tensors[$"logits.{i}"];
            Assert.Equal([sequences[i].Length, 512], entry.Shape);
            var actual = MemoryMarshal.Cast<byte, float>(written.Bytes(entry));
            var expected = MemoryMarshal.Cast<byte, float>(reference.Bytes(reference.Tensors[$"logits.{i}"]));
            double diff = 0, norm = 0;
            for (int j = 0; j < expected.Length; j++)
            {
                diff += Math.Pow(actual[j] - expected[j], 2);
                norm += Math.Pow(expected[j], 2);
            }

            Assert.True(Math.Sqrt(diff / norm) < 1e-4);
        }
    }

    [Theory]
    [InlineData("[[1,2],[3,", "ids.json")]
    [InlineData("[]", "non-empty")]
    [InlineData("[[1,2],[600]]", "600")]
    public void BadInputIsNamed(string content, string named)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("ids.json"), content);
        var run = CliRun.Invoke("logits", "--model", Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model"), "--input", temp.File("ids.json"), "--output", temp.File("out.safetensors"));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(named, run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(temp.File("out.safetensors")));
    }

    [Fact]
    public void AMissingRequiredOptionIsAUsageError()
    {
        var run = CliRun.Invoke("logits", "--model", Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model"));
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("--input", run.Error, StringComparison.Ordinal);
    }
}

public sealed class PerplexityCommandTests
{
    [Fact]
    public void ScoresATextFile()
    {
        using var model = new TinyChatModel();
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("text.txt"), string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 8)));
        var run = CliRun.Invoke("perplexity", "--model", model.Directory, "--text", temp.File("text.txt"), "--window", "128", "--stride", "64", "--json");
        Assert.Equal(0, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Out);
        // [BOS] + one token per byte: every token after the first is scored once.
        Assert.Equal(8 * 45, doc.RootElement.GetProperty("tokens").GetInt32());
        double ppl = doc.RootElement.GetProperty("perplexity").GetDouble();
        Assert.True(ppl > 1 && double.IsFinite(ppl));
    }

    [Fact]
    public void AStrideLargerThanTheWindowIsNamed()
    {
        using var model = new TinyChatModel();
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("text.txt"), "some text to score");
        var run = CliRun.Invoke("perplexity", "--model", model.Directory, "--text", temp.File("text.txt"), "--window", "16", "--stride", "32");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("stride", run.Error, StringComparison.Ordinal);
    }
}

public sealed class BundledModelTests
{
    [Fact]
    public void WithoutModelTheBundledDemoModelContinuesAsPyTorchDoes()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TestPaths.TestData, "fathom-demo", "greedy.json")));
        var reference = doc.RootElement.GetProperty("cases")[0];
        Assert.Equal("Once upon a time", reference.GetProperty("prompt").GetString());
        var run = CliRun.Invoke("generate", "Once upon a time", "--temperature", "0", "--max-tokens", "32", "--ignore-eos", "--json");
        Assert.True(run.ExitCode == 0, run.Error);
        using var output = JsonDocument.Parse(run.Out);
        Assert.Equal(
            reference.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32()),
            output.RootElement.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32()));
        string text = output.RootElement.GetProperty("text").GetString()!;
        Assert.StartsWith(", the only time", text, StringComparison.Ordinal);
    }

    [Fact]
    public void InfoDescribesTheBundledModel()
    {
        var run = CliRun.Invoke("info");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("models/fathom-demo", run.Out, StringComparison.Ordinal);
        Assert.Contains("mtp_modules              1", run.Out, StringComparison.Ordinal);
    }
}
