using Fathom.Backends.Cpu;
using Fathom.Engine.Serving;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Engine.Tests;

/// <summary>The continuous-batching scheduler on the tiny golden model: answers equal the single-sequence generator's, whatever the batching, chunking, prefix reuse or preemption.</summary>
public sealed class SchedulerTests : IDisposable
{
    private readonly LoadedModel _model = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model"), new LoadOptions());
    private readonly CpuBackend _backend = new(2);

    public void Dispose()
    {
        _backend.Dispose();
        _model.Dispose();
    }

    private static int[] Prompt(int seed, int length) => [.. Enumerable.Range(0, length).Select(t => 4 + (((t * 37) + (seed * 101)) % 500))];

    private int[] Solo(int[] prompt, int maxTokens)
    {
        var generator = new Generator(new Transformer(_model, _backend), null);
        var result = generator.Generate(generator.CreateSession(512), prompt, SamplingParams.Greedy, new StopConditions { MaxTokens = maxTokens, IgnoreEos = true });
        return [.. result.OutputIds];
    }

    private static async Task<(int[] Ids, RequestCompletion Done)> RunAsync(Scheduler scheduler, int[] prompt, int maxTokens)
    {
        var handle = scheduler.Submit(new Request(prompt, SamplingParams.Greedy, new StopConditions { MaxTokens = maxTokens, IgnoreEos = true }));
        var (tokens, _, done) = await handle.CollectAsync();
        return ([.. tokens.Select(t => t.Id)], done);
    }

    [Fact]
    public async Task BatchedChunkedAndPrefixCachedAnswersEqualTheGenerator()
    {
        // Small steps force prompts to be prefilled in chunks mixed with other sequences' decode steps.
        using var scheduler = new Scheduler(new Transformer(_model, _backend), null, new EngineOptions { MaxBatch = 4, PageSize = 8, KvCacheBytes = 8L << 20, MaxStepTokens = 24 });
        var prompts = Enumerable.Range(0, 6).Select(i => Prompt(i, 10 + (i * 13))).ToArray();
        var expected = prompts.Select(p => Solo(p, 10)).ToArray();
        var answers = await Task.WhenAll(prompts.Select(p => RunAsync(scheduler, p, 10)));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i], answers[i].Ids);
            Assert.Equal(FinishReason.Length, answers[i].Done.FinishReason);
            Assert.Equal(prompts[i].Length, answers[i].Done.PromptTokens);
        }

        // The same prompt again reuses its full pages and still answers the same.
        var again = await RunAsync(scheduler, prompts[5], 10);
        Assert.Equal(expected[5], again.Ids);
        Assert.Equal(prompts[5].Length / 8 * 8, again.Done.CachedPromptTokens);
        Assert.True(scheduler.Statistics.PrefixHitTokens > 0);
        Assert.True(scheduler.Statistics.BatchSize.Count < 6 * 10, "sequences shared forward passes");
    }

    [Fact]
    public async Task PreemptedSequencesAreRecomputedAndAnswerTheSame()
    {
        var config = _model.Config;
        long bytesPerPage = Fathom.Model.PagedKvStorage.BytesPerToken(config) * 8;

        // 12 pages of 8 tokens: three sequences of 30 + 40 tokens cannot all grow at once.
        using var scheduler = new Scheduler(new Transformer(_model, _backend), null, new EngineOptions { MaxBatch = 3, PageSize = 8, KvCacheBytes = 12 * bytesPerPage, PrefixCaching = false });
        var prompts = Enumerable.Range(0, 3).Select(i => Prompt(i + 10, 30)).ToArray();
        var expected = prompts.Select(p => Solo(p, 40)).ToArray();
        var answers = await Task.WhenAll(prompts.Select(p => RunAsync(scheduler, p, 40)));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i], answers[i].Ids);
        }

        Assert.True(scheduler.Statistics.Preemptions > 0, "the pool was too small for all three: some were preempted");
        Assert.Equal(0, scheduler.Statistics.UsedPages);
    }

    [Fact]
    public async Task CancellationFreesPagesAndEndsTheRequest()
    {
        using var scheduler = new Scheduler(new Transformer(_model, _backend), null, new EngineOptions { KvCacheBytes = 8L << 20 });
        using var cancel = new CancellationTokenSource();
        var handle = scheduler.Submit(new Request(Prompt(3, 20), SamplingParams.Greedy, new StopConditions { MaxTokens = 400, IgnoreEos = true }, Cancellation: cancel.Token));
        await handle.Events.ReadAsync();
        await cancel.CancelAsync();
        var (tokens, _, done) = await handle.CollectAsync();
        Assert.Equal(FinishReason.Cancelled, done.FinishReason);
        Assert.True(tokens.Count < 399);
        for (int i = 0; i < 500 && scheduler.Statistics.UsedPages != 0; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(0, scheduler.Statistics.UsedPages);
    }

    [Fact]
    public void RequestsThatCanNeverRunAreRefusedAndAFullQueueOverflows()
    {
        using var scheduler = new Scheduler(new Transformer(_model, _backend), null, new EngineOptions { KvCacheBytes = 8L << 20, MaxWaiting = 0 });
        var greedy = SamplingParams.Greedy;
        var stop = new StopConditions();
        Assert.Equal("prompt", Assert.Throws<ArgumentException>(() => scheduler.Submit(new Request([], greedy, stop))).ParamName);
        Assert.Equal("prompt", Assert.Throws<ArgumentException>(() => scheduler.Submit(new Request(Prompt(1, 512), greedy, stop))).ParamName);
        Assert.Equal("prompt", Assert.Throws<ArgumentException>(() => scheduler.Submit(new Request([600], greedy, stop))).ParamName);
        Assert.Equal("temperature", Assert.Throws<ArgumentException>(() => scheduler.Submit(new Request([5], greedy with { Temperature = -1 }, stop))).ParamName);
        Assert.Throws<EngineOverloadedException>(() => scheduler.Submit(new Request([5], greedy, stop)));
    }

    [Fact]
    public void PagedCacheGivesBitIdenticalLogitsToTheContiguousCache()
    {
        var transformer = new Transformer(_model, _backend);
        var kv = new Paging.KvCacheManager(_model.Config, pageCount: 16, pageSize: 5);
        var paged = kv.CreateSequence();
        var contiguous = transformer.CreateCache(64);
        int[] prompt = Prompt(7, 23);
        var a = new float[transformer.VocabSize];
        var b = new float[transformer.VocabSize];
        kv.TryReserve(paged, 40);
        transformer.Forward(prompt, (IKvCache)paged.Storage, a);
        transformer.Forward(prompt, contiguous, b);
        Assert.Equal(b, a);
        for (int step = 0; step < 8; step++)
        {
            int next = Sampler.ArgMax(a);
            transformer.Forward([next], (IKvCache)paged.Storage, a);
            transformer.Forward([next], contiguous, b);
            Assert.Equal(b, a);
        }
    }
}
