using Fathom.Model;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>The absorbed form (decode) and the expanded form (prefill) of MLA are the same function.</summary>
public sealed class MlaFormTests
{
    public static TheoryData<string> Cases => new(GoldenCase.All);

    [Theory]
    [MemberData(nameof(Cases))]
    public void AbsorbedAndExpandedAgreeOnWholeSequences(string name)
    {
        using var golden = new GoldenCase(name);
        using var run = golden.Open();
        var model = run.Model;
        var transformer = run.Transformer;
        int vocab = model.Config.VocabSize;
        var (tensor, ids) = golden.Sequences[3];
        var absorbed = new float[ids.Length * vocab];
        var expanded = new float[ids.Length * vocab];
        transformer.Forward(ids, transformer.CreateCache(ids.Length), absorbed, LogitsSelection.All, MlaMode.Absorbed);
        transformer.Forward(ids, transformer.CreateCache(ids.Length), expanded, LogitsSelection.All, MlaMode.Expanded);
        Assert.True(GoldenCase.WorstRowError(absorbed, expanded, vocab) < 1e-5);
        Assert.True(GoldenCase.WorstRowError(absorbed, golden.Logits(tensor), vocab) <= 1e-4);
    }

    [Fact]
    public void ExpandedDecodeStepsAgreeWithAbsorbedOnes()
    {
        using var golden = new GoldenCase("tiny-v3");
        using var run = golden.Open();
        var model = run.Model;
        var transformer = run.Transformer;
        int vocab = model.Config.VocabSize;
        int[] ids = golden.Sequences[2].Ids;
        var a = transformer.CreateCache(ids.Length);
        var b = transformer.CreateCache(ids.Length);
        var la = new float[vocab];
        var lb = new float[vocab];
        transformer.Forward(ids.AsSpan(0, 20), a, la);
        transformer.Forward(ids.AsSpan(0, 20), b, lb);
        for (int i = 20; i < ids.Length; i++)
        {
            transformer.Forward(ids.AsSpan(i, 1), a, la, mode: MlaMode.Absorbed);
            transformer.Forward(ids.AsSpan(i, 1), b, lb, mode: MlaMode.Expanded);
            Assert.True(GoldenCase.WorstRowError(la, lb, vocab) < 1e-5, $"position {i}");
        }
    }
}
