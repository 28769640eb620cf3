using Fathom.Model;
using Xunit;
using Xunit.Abstractions;

namespace Fathom.Model.Tests;

/// <summary>The float32 path against Hugging Face transformers' float64 logits, for every golden checkpoint.</summary>
public sealed class GoldenLogitsTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new(GoldenCase.All);

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryPositionMatchesTheReference(string name)
    {
        using var golden = new GoldenCase(name);
        using var run = golden.Open();
        var model = run.Model;
        var transformer = run.Transformer;
        int vocab = model.Config.VocabSize;
        foreach (var (tensor, ids) in golden.Sequences)
        {
            var logits = new float[ids.Length * vocab];
            transformer.Forward(ids, transformer.CreateCache(ids.Length), logits, LogitsSelection.All);
            double error = GoldenCase.WorstRowError(logits, golden.Logits(tensor), vocab);
            output.WriteLine($"{name} {tensor} (len {ids.Length}): worst relative error {error:E2}");
            Assert.True(error <= 1e-4, $"{name} {tensor}: relative error {error:E3} > 1e-4");
        }
    }
}
