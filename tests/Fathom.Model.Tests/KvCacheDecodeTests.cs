using Fathom.Backends.Cpu;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>Decoding token by token through the latent cache computes what one full forward pass computes.</summary>
public sealed class KvCacheDecodeTests
{
    public static TheoryData<string> Cases => new(GoldenCase.All);

    [Theory]
    [MemberData(nameof(Cases))]
    public void TokenByTokenEqualsFullForward(string name) => TokenByToken(name, TestDevice.Cpu);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void TokenByTokenEqualsFullForwardOnTheGpu(string name) => TokenByToken(name, TestDevice.CudaF32);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ChunkedPrefillThenDecodeMatchesTheReference(string name) => Chunked(name, TestDevice.Cpu);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void ChunkedPrefillThenDecodeMatchesTheReferenceOnTheGpu(string name) => Chunked(name, TestDevice.CudaF32);

    private static void TokenByToken(string name, TestDevice device)
    {
        using var golden = new GoldenCase(name);
        using var run = golden.Open(device: device);
        var model = run.Model;
        var transformer = run.Forward;
        int vocab = model.Config.VocabSize;
        int[] ids = golden.Sequences[3].Ids; // 130 tokens
        var full = new float[ids.Length * vocab];
        using (var fullCache = transformer.CreateCache(ids.Length))
        {
            transformer.Forward(ids, fullCache, full, LogitsSelection.All);
        }

        using var cache = transformer.CreateCache(ids.Length);
        var step = new float[vocab];
        double worst = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            transformer.Forward(ids.AsSpan(i, 1), cache, step);
            worst = Math.Max(worst, GoldenCase.WorstRowError(step, full.AsSpan(i * vocab, vocab), vocab));
        }

        Assert.Equal(ids.Length, cache.Length);
        Assert.True(worst < 1e-5, $"{name}: decode differs from the full pass by {worst:E2}");
    }

    private static void Chunked(string name, TestDevice device)
    {
        using var golden = new GoldenCase(name);
        using var run = golden.Open(maxChunkTokens: 37, device: device);
        var model = run.Model;
        var transformer = run.Forward;
        int vocab = model.Config.VocabSize;
        var (tensor, ids) = golden.Sequences[4]; // 300 tokens, several chunks
        var logits = new float[ids.Length * vocab];
        using var cache = transformer.CreateCache(ids.Length);
        transformer.Forward(ids.AsSpan(0, 200), cache, logits.AsSpan(0, 200 * vocab), LogitsSelection.All);
        transformer.Forward(ids.AsSpan(200), cache, logits.AsSpan(200 * vocab), LogitsSelection.All);
        double error = GoldenCase.WorstRowError(logits, golden.Logits(tensor), vocab);
        Assert.True(error <= 1e-4, $"{name}: relative error {error:E3}");
    }

    [Fact]
    public void RewindingTheCacheRecomputesTheSameLogits()
    {
        using var golden = new GoldenCase("tiny-v3");
        using var run = golden.Open();
        var model = run.Model;
        var transformer = run.Transformer;
        int vocab = model.Config.VocabSize;
        int[] ids = golden.Sequences[2].Ids;
        var cache = transformer.CreateCache(64);
        var first = new float[vocab];
        var second = new float[vocab];
        transformer.Forward(ids, cache, first);
        cache.Truncate(10);
        transformer.Forward(ids.AsSpan(10), cache, second);
        Assert.Equal(first, second);
    }

    [Fact]
    public void AFullCacheIsRefusedWithAClearError()
    {
        using var golden = new GoldenCase("tiny-v3");
        using var model = LoadedModel.Load(golden.ModelDirectory);
        var transformer = new Transformer(model, new ReferenceBackend());
        var cache = transformer.CreateCache(4);
        var logits = new float[model.Config.VocabSize];
        var e = Assert.Throws<ArgumentException>(() => transformer.Forward([1, 2, 3, 4, 5], cache, logits));
        Assert.Contains("cache", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, cache.Length);
    }

    [Fact]
    public void TokenIdsOutsideTheVocabularyAreRefused()
    {
        using var golden = new GoldenCase("tiny-v3");
        using var model = LoadedModel.Load(golden.ModelDirectory);
        var transformer = new Transformer(model, new ReferenceBackend());
        var logits = new float[model.Config.VocabSize];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => transformer.Forward([3, 512], transformer.CreateCache(4), logits));
        Assert.Contains("512", e.Message, StringComparison.Ordinal);
    }
}
