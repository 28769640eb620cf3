using System.Text.Json;
using Fathom.Backends.Cpu;
using Fathom.Engine;
using Fathom.Model;
using Fathom.TestSupport;
using Fathom.Tokenizer;
using Xunit;

namespace Fathom.Engine.Tests;

/// <summary>
/// The bundled demo model against PyTorch (transformers' DeepseekV3ForCausalLM on the same FP8 weights,
/// float64): greedy continuations of tests/TestData/fathom-demo/greedy.json, token for token.
/// </summary>
public sealed class DemoModelTests
{
    private static string ModelDirectory => Path.Combine(TestPaths.RepositoryRoot, "models", "fathom-demo");

    private static string Data(string file) => Path.Combine(TestPaths.TestData, "fathom-demo", file);

    [Fact]
    public void GreedyGenerationMatchesPyTorchForEveryReferencePrompt()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Data("greedy.json")));
        using var model = LoadedModel.Load(ModelDirectory);
        using var backend = new CpuBackend();
        var tokenizer = TextTokenizer.Load(ModelDirectory);
        var generator = new Generator(new Transformer(model, backend), tokenizer);
        int cases = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            int[] input = [.. c.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32())];
            int[] expected = [.. c.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32())];
            string prompt = c.GetProperty("prompt").GetString()!;
            var result = generator.Generate(generator.CreateSession(128), input, SamplingParams.Greedy, new StopConditions { MaxTokens = expected.Length, IgnoreEos = true });
            Assert.True(expected.SequenceEqual(result.OutputIds), $"'{prompt}': expected [{string.Join(",", expected)}] got [{string.Join(",", result.OutputIds)}]");
            cases++;
        }

        Assert.True(cases >= 3, $"greedy.json holds {cases} cases");
        Assert.Equal(32, doc.RootElement.GetProperty("cases")[0].GetProperty("output_ids").GetArrayLength());
    }

    [Fact]
    public void ReferencePromptsTokenizeAsPyTorchDid()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Data("greedy.json")));
        var tokenizer = TextTokenizer.Load(ModelDirectory);
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string prompt = c.GetProperty("prompt").GetString()!;
            int[] input = [.. c.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32())];
            // Chat cases carry their messages and the rendered prompt (with the template's own BOS).
            int[] ours;
            if (c.TryGetProperty("messages", out var messages))
            {
                var rendered = tokenizer.ApplyChatTemplate(
                    [.. messages.EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()))],
                    addGenerationPrompt: true);
                Assert.Equal(prompt, rendered.Prompt);
                ours = rendered.Ids;
            }
            else
            {
                ours = tokenizer.Encode(prompt);
            }

            Assert.True(input.SequenceEqual(ours), $"'{prompt}': [{string.Join(",", input)}] vs [{string.Join(",", ours)}]");
        }
    }

    [Fact]
    public void HeldOutPerplexityAgreesWithPyTorch()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Data("perplexity.json")));
        var reference = doc.RootElement;
        using var model = LoadedModel.Load(ModelDirectory);
        using var backend = new CpuBackend();
        var tokenizer = TextTokenizer.Load(ModelDirectory);
        int[] ids = tokenizer.Encode(File.ReadAllText(Data(reference.GetProperty("text_file").GetString()!)));
        Assert.Equal(reference.GetProperty("tokens").GetInt32(), ids.Length);
        var result = PerplexityEvaluator.Evaluate(new Transformer(model, backend), ids, reference.GetProperty("window").GetInt32(), reference.GetProperty("stride").GetInt32());
        double expected = reference.GetProperty("perplexity").GetDouble();
        Assert.Equal(reference.GetProperty("scored_tokens").GetInt32(), result.ScoredTokens);
        Assert.True(Math.Abs(result.Perplexity - expected) / expected < 0.005, $"perplexity {result.Perplexity} vs PyTorch {expected}");
    }
}
