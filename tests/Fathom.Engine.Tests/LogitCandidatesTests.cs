using Fathom.Engine;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Engine.Tests;

/// <summary>
/// Sampling from a row's best logits (what a GPU pass returns instead of the whole vocabulary) chooses the
/// same tokens, with the same random draws, as sampling from the whole row.
/// </summary>
public sealed class LogitCandidatesTests
{
    public static TheoryData<float, int, float, float, int> Settings => new()
    {
        { 0f, 0, 1f, 0f, 1 },
        { 0.7f, 20, 1f, 0f, 5 },
        { 1.3f, 50, 0.8f, 0.02f, 9 },
        { 1f, 3, 0.5f, 0.3f, 11 },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void CandidatesChooseTheSameTokensAsTheWholeRow(float temperature, int topK, float topP, float minP, int seed)
    {
        const int vocab = 1000;
        var parameters = new SamplingParams { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP, Seed = (ulong)seed };
        var whole = new Sampler(parameters, vocab);
        var fromCandidates = new Sampler(parameters, vocab);
        int k = fromCandidates.CandidatesNeeded;
        Assert.Equal(temperature == 0 ? 1 : topK, k);
        var random = new Random(seed);
        var logits = new float[vocab];
        for (int step = 0; step < 300; step++)
        {
            for (int i = 0; i < vocab; i++)
            {
                // Coarse values, so that ties (broken by the lower id) are common.
                logits[i] = MathF.Round((float)(random.NextDouble() * 8), 1);
            }

            var (values, ids) = Best(logits, k + 7);
            int expected = whole.Sample(logits.ToArray());
            int actual = fromCandidates.Sample(values, ids);
            Assert.Equal(expected, actual);
            whole.Accept(expected);
            fromCandidates.Accept(actual);
        }
    }

    [Fact]
    public void LogprobsFromCandidatesEqualThoseOfTheWholeRow()
    {
        var random = new Random(3);
        var logits = new float[500];
        for (int step = 0; step < 50; step++)
        {
            for (int i = 0; i < logits.Length; i++)
            {
                logits[i] = MathF.Round((float)(random.NextDouble() * 12) - 6, 1);
            }

            double max = logits.Max();
            float lse = (float)(max + Math.Log(logits.Sum(v => Math.Exp(v - max))));
            int top = step % 6, k = top + 4;
            var (values, ids) = Best(logits, k);
            int chosen = ids[step % k];
            var whole = Fathom.Engine.Serving.LogprobCalculator.Compute(logits, chosen, top);
            var sparse = Fathom.Engine.Serving.LogprobCalculator.FromCandidates(values, ids, lse, chosen, top);
            Assert.Equal(whole.Logprob, sparse.Logprob, 1e-5);
            Assert.Equal(whole.Top.Select(t => t.Id), sparse.Top.Select(t => t.Id));
            Assert.Equal(whole.Top.Select(t => (double)t.Logprob), sparse.Top.Select(t => (double)t.Logprob), (a, b) => Math.Abs(a - b) < 1e-5);
        }

        Assert.Throws<InvalidOperationException>(() => Fathom.Engine.Serving.LogprobCalculator.FromCandidates([2f, 1f], [7, 3], 3f, 5, 1));
    }

    [Fact]
    public void PenaltiesOrSamplingWithoutTopKNeedTheWholeRow()
    {
        Assert.Equal(0, new Sampler(new SamplingParams { Temperature = 0, RepetitionPenalty = 1.1f }, 100).CandidatesNeeded);
        Assert.Equal(0, new Sampler(new SamplingParams { Temperature = 0.8f, TopP = 0.9f }, 100).CandidatesNeeded);
        Assert.Equal(0, new Sampler(new SamplingParams { Temperature = 0.8f, TopK = 10, PresencePenalty = 0.5f }, 100).CandidatesNeeded);
        var sampler = new Sampler(new SamplingParams { Temperature = 0.8f, TopK = 10 }, 100);
        Assert.Throws<ArgumentException>(() => sampler.Sample(new float[5], new int[5]));
    }

    /// <summary>On the GPU the pass's candidates are exactly the best logits of the whole row, and generation through them equals generation from whole rows.</summary>
    [CudaTheory]
    [MemberData(nameof(Settings))]
    public void GpuCandidatesEqualTheWholeRowsAndGenerateTheSameTokens(float temperature, int topK, float topP, float minP, int seed)
    {
        using var model = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model"));
        var (pass, lifetime) = TestForwardPass.Create(model, TestDevice.CudaF32);
        using var owned = lifetime;
        Assert.True(pass.MaxCandidates >= 64, $"{pass.Device} returns {pass.MaxCandidates} candidates per row");
        int vocab = pass.VocabSize;
        int[][] prompts = [[5, 6, 7, 8, 9], [100, 200, 300], [42, 17, 255, 9, 3, 77, 301, 12]];

        // One batched pass, candidates vs whole rows over equal caches.
        var full = new float[prompts.Length * vocab];
        var candidates = new LogitCandidates(prompts.Length, pass.MaxCandidates);
        var cachesA = prompts.Select(p => pass.CreateCache(64)).ToArray();
        var cachesB = prompts.Select(p => pass.CreateCache(64)).ToArray();
        pass.Forward([.. prompts.Select((p, i) => new BatchEntry(p, cachesA[i]))], full);
        pass.Forward([.. prompts.Select((p, i) => new BatchEntry(p, cachesB[i]))], candidates, 40);
        for (int r = 0; r < prompts.Length; r++)
        {
            var row = full.AsSpan(r * vocab, vocab).ToArray();
            var (values, ids) = Best(row, 40);
            Assert.Equal(ids, candidates.Ids(r).ToArray());
            Assert.Equal(values, candidates.Values(r).ToArray());
            double max = row.Max(), sum = row.Sum(v => Math.Exp(v - max));
            Assert.Equal(max + Math.Log(sum), candidates.LogSumExp[r], 4);
        }

        foreach (var cache in cachesA.Concat(cachesB))
        {
            cache.Dispose();
        }

        // Generation: the Generator (candidates on this pass) against a loop over whole rows.
        var parameters = new SamplingParams { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP, Seed = (ulong)seed };
        var generator = new Generator(pass, tokenizer: null);
        using var session = generator.CreateSession(128);
        var generated = generator.Generate(session, prompts[2], parameters, new StopConditions { MaxTokens = 40, IgnoreEos = true });
        using var cache2 = pass.CreateCache(128);
        var sampler = new Sampler(parameters, vocab);
        sampler.AddPrompt(prompts[2]);
        var logits = new float[vocab];
        pass.Forward(prompts[2], cache2, logits);
        var expected = new List<int>();
        for (int t = 0; t < 40; t++)
        {
            int next = sampler.Sample(logits);
            sampler.Accept(next);
            expected.Add(next);
            pass.Forward([next], cache2, logits);
        }

        Assert.Equal(expected, generated.OutputIds);
    }

    /// <summary>The <paramref name="k"/> largest values, largest first, equal values by the lower id.</summary>
    private static (float[] Values, int[] Ids) Best(float[] logits, int k)
    {
        int[] order = [.. Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(k)];
        return ([.. order.Select(i => logits[i])], order);
    }
}
