using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>Several sequences in one forward pass compute exactly what each computes alone.</summary>
public sealed class BatchedForwardTests
{
    public static TheoryData<string> Cases => new(GoldenCase.All);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MixedPrefillAndDecodeMatchSeparatePasses(string name) => Mixed(name, TestDevice.Cpu, 0);

    /// <summary>On the GPU the split of attention over the sequence depends on the batch shape, so sums are reordered: equal within 1e-5.</summary>
    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void MixedPrefillAndDecodeMatchSeparatePassesOnTheGpu(string name) => Mixed(name, TestDevice.CudaF32, 1e-5);

    private static void Mixed(string name, TestDevice device, double tolerance)
    {
        bool Same(ReadOnlySpan<float> x, ReadOnlySpan<float> y, int vocab) => tolerance == 0 ? x.SequenceEqual(y) : GoldenCase.WorstRowError(x, y, vocab) <= tolerance;
        using var golden = new GoldenCase(name);
        using var run = golden.Open(device: device);
        var transformer = run.Forward;
        int vocab = run.Vocab;
        int[] a = golden.Sequences[2].Ids, b = golden.Sequences[3].Ids, c = golden.Sequences[1].Ids;

        // Alone: a prefilled whole, b prefilled to 100 then one more token, c prefilled to 6 then one more.
        var aloneA = new float[a.Length * vocab];
        var aloneB = new float[vocab];
        var aloneC = new float[vocab];
        var cacheA = transformer.CreateCache(64);
        var cacheB = transformer.CreateCache(160);
        var cacheC = transformer.CreateCache(16);
        transformer.Forward(a, cacheA, aloneA, LogitsSelection.All);
        transformer.Forward(b.AsSpan(0, 100), cacheB, aloneB);
        transformer.Forward(b.AsSpan(100, 1), cacheB, aloneB);
        transformer.Forward(c.AsSpan(0, 6), cacheC, aloneC);
        transformer.Forward(c.AsSpan(6, 1), cacheC, aloneC);

        // Together: the same work, with the prefill of a and the decode steps of b and c in one pass.
        var batchB = transformer.CreateCache(160);
        var batchC = transformer.CreateCache(16);
        var scratch = new float[vocab];
        transformer.Forward(b.AsSpan(0, 100), batchB, scratch);
        transformer.Forward(c.AsSpan(0, 6), batchC, scratch);
        var batchA = transformer.CreateCache(64);
        BatchEntry[] entries = [new(a, batchA), new(b.AsMemory(100, 1), batchB), new(c.AsMemory(6, 1), batchC)];
        var all = new float[(a.Length + 2) * vocab];
        transformer.Forward(entries, all, LogitsSelection.All);

        Assert.True(Same(all.AsSpan(0, a.Length * vocab), aloneA, vocab), "prefill rows of a differ");
        Assert.True(Same(all.AsSpan(a.Length * vocab, vocab), aloneB, vocab), "decode row of b differs");
        Assert.True(Same(all.AsSpan((a.Length + 1) * vocab, vocab), aloneC, vocab), "decode row of c differs");
        Assert.Equal(a.Length, batchA.Length);
        Assert.Equal(101, batchB.Length);
        Assert.Equal(7, batchC.Length);
    }

    [Fact]
    public void LastSelectionGivesOneRowPerSequence()
    {
        using var golden = new GoldenCase("tiny-v3");
        using var run = golden.Open();
        var transformer = run.Transformer;
        int vocab = run.Vocab;
        int[] a = golden.Sequences[2].Ids, b = golden.Sequences[1].Ids;
        var lastA = new float[vocab];
        var lastB = new float[vocab];
        transformer.Forward(a, transformer.CreateCache(64), lastA);
        transformer.Forward(b, transformer.CreateCache(64), lastB);
        var both = new float[2 * vocab];
        BatchEntry[] entries = [new(a, transformer.CreateCache(64)), new(b, transformer.CreateCache(64))];
        transformer.Forward(entries, both);
        Assert.True(both.AsSpan(0, vocab).SequenceEqual(lastA));
        Assert.True(both.AsSpan(vocab, vocab).SequenceEqual(lastB));
    }

    [Fact]
    public void ASharedCacheOrAnOversizedBatchIsRefused()
    {
        using var golden = new GoldenCase("tiny-v3");
        using var run = golden.Open(maxChunkTokens: 16);
        var transformer = run.Transformer;
        var logits = new float[4 * run.Vocab];
        var cache = transformer.CreateCache(64);
        var shared = Assert.Throws<ArgumentException>(() => transformer.Forward([new BatchEntry(new[] { 1, 2 }, cache), new BatchEntry(new[] { 3 }, cache)], logits));
        Assert.Contains("share one cache", shared.Message, StringComparison.Ordinal);
        var big = Assert.Throws<ArgumentException>(() => transformer.Forward([new BatchEntry(new int[10], transformer.CreateCache(64)), new BatchEntry(new int[10], transformer.CreateCache(64))], logits));
        Assert.Contains("16", big.Message, StringComparison.Ordinal);
        Assert.Equal(0, cache.Length);
    }
}
