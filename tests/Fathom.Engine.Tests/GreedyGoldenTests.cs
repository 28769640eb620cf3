using System.Text.Json;
using Fathom.Backends.Cpu;
using Fathom.Engine;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Engine.Tests;

/// <summary>Greedy generation through the KV cache reproduces the reference's 24 tokens exactly.</summary>
public sealed class GreedyGoldenTests
{
    public static TheoryData<string> Cases => new(["tiny-v3", "tiny-v3-fp8", "tiny-v2-lite"]);

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyContinuationsAreExact(string name) => Check(name, TestDevice.Cpu);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void GreedyContinuationsAreExactOnTheGpu(string name) => Check(name, TestDevice.CudaF32);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void GreedyContinuationsAreExactWithBf16ActivationsOnTheGpu(string name) => Check(name, TestDevice.CudaBf16);

    private static void Check(string name, TestDevice device)
    {
        string folder = TestPaths.GoldenCase(name);
        string json = File.ReadAllText(Path.Combine(folder, "golden.json")).Replace("Infinity", "1e308", StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json);
        using var model = LoadedModel.Load(Path.Combine(folder, "model"));
        var (pass, lifetime) = TestForwardPass.Create(model, device);
        using var owned = lifetime;
        var generator = new Generator(pass, tokenizer: null);
        foreach (var greedy in doc.RootElement.GetProperty("greedy").EnumerateArray())
        {
            int[] prompt = [.. greedy.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt32())];
            int[] expected = [.. greedy.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32())];
            using var session = generator.CreateSession(256);
            var result = generator.Generate(
                session,
                prompt,
                SamplingParams.Greedy,
                new StopConditions { MaxTokens = expected.Length, IgnoreEos = true });
            Assert.Equal(expected, result.OutputIds);
            Assert.Equal(FinishReason.Length, result.FinishReason);
        }
    }

    [Fact]
    public void WithoutIgnoreEosGenerationStopsAtTheEndOfSequenceToken()
    {
        // tiny-v3's first golden continuation passes through EOS (id 1) as its 10th token.
        string folder = TestPaths.GoldenCase("tiny-v3");
        using var model = LoadedModel.Load(Path.Combine(folder, "model"));
        using var backend = new CpuBackend();
        var generator = new Generator(new Transformer(model, backend), tokenizer: null);
        var result = generator.Generate(generator.CreateSession(64), [111, 466, 210, 327, 178], SamplingParams.Greedy, new StopConditions { MaxTokens = 24 });
        Assert.Equal([143, 462, 374, 360, 52, 132, 499, 462, 456, 1], result.OutputIds);
        Assert.Equal(FinishReason.Stop, result.FinishReason);
    }
}
