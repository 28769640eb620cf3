using Fathom.Engine;
using Xunit;

namespace Fathom.Engine.Tests;

public sealed class SamplerTests
{
    private static float[] Logits(params float[] values) => values;

    [Fact]
    public void TemperatureZeroIsArgmaxWithTheLowestIndexOnTies()
    {
        var sampler = new Sampler(SamplingParams.Greedy, 4);
        Assert.Equal(2, sampler.Sample(Logits(0, 1, 3, 3)));
    }

    [Fact]
    public void TheSameSeedGivesTheSameTokens()
    {
        var p = new SamplingParams { Temperature = 1, Seed = 42 };
        var a = new Sampler(p, 50);
        var b = new Sampler(p, 50);
        var rng = new Random(1);
        var logits = Enumerable.Range(0, 50).Select(_ => (float)rng.NextDouble()).ToArray();
        var first = Enumerable.Range(0, 100).Select(_ => a.Sample((float[])logits.Clone())).ToArray();
        var second = Enumerable.Range(0, 100).Select(_ => b.Sample((float[])logits.Clone())).ToArray();
        Assert.Equal(first, second);
        Assert.True(first.Distinct().Count() > 10, "sampling at temperature 1 over 50 near-equal logits should vary");
    }

    [Fact]
    public void SamplingFollowsTheSoftmaxDistribution()
    {
        var sampler = new Sampler(new SamplingParams { Temperature = 1, Seed = 7 }, 3);
        float[] logits = [0, MathF.Log(2), MathF.Log(7)]; // probabilities 0.1, 0.2, 0.7
        var counts = new int[3];
        for (int i = 0; i < 20000; i++)
        {
            counts[sampler.Sample((float[])logits.Clone())]++;
        }

        Assert.InRange(counts[0] / 20000.0, 0.09, 0.11);
        Assert.InRange(counts[1] / 20000.0, 0.19, 0.21);
        Assert.InRange(counts[2] / 20000.0, 0.69, 0.71);
    }

    [Fact]
    public void TopKKeepsOnlyTheKBest()
    {
        var sampler = new Sampler(new SamplingParams { Temperature = 5, TopK = 2, Seed = 1 }, 5);
        for (int i = 0; i < 500; i++)
        {
            Assert.Contains(sampler.Sample(Logits(1, 5, 0, 4, 2)), new[] { 1, 3 });
        }
    }

    [Fact]
    public void TopPKeepsTheSmallestSetReachingP()
    {
        // probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.75 keeps the first two (0.8 ≥ 0.75).
        float[] logits = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f)];
        var sampler = new Sampler(new SamplingParams { Temperature = 1, TopP = 0.75f, Seed = 3 }, 4);
        var seen = new HashSet<int>();
        for (int i = 0; i < 2000; i++)
        {
            seen.Add(sampler.Sample((float[])logits.Clone()));
        }

        Assert.Equal(new HashSet<int> { 0, 1 }, seen);
    }

    [Fact]
    public void MinPDropsTokensFarBelowTheBest()
    {
        // probabilities 0.6, 0.3, 0.1: min_p 0.4 keeps tokens with p ≥ 0.24.
        float[] logits = [MathF.Log(0.6f), MathF.Log(0.3f), MathF.Log(0.1f)];
        var sampler = new Sampler(new SamplingParams { Temperature = 1, MinP = 0.4f, Seed = 3 }, 3);
        var seen = new HashSet<int>();
        for (int i = 0; i < 2000; i++)
        {
            seen.Add(sampler.Sample((float[])logits.Clone()));
        }

        Assert.Equal(new HashSet<int> { 0, 1 }, seen);
    }

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits()
    {
        var sampler = new Sampler(new SamplingParams { Temperature = 0, RepetitionPenalty = 2 }, 3);
        sampler.AddPrompt([0]);
        // token 0: 3 → 1.5 loses to token 1 (2.0).
        Assert.Equal(1, sampler.Sample(Logits(3, 2, -1)));
        var negative = new Sampler(new SamplingParams { Temperature = 0, RepetitionPenalty = 2 }, 3);
        negative.AddPrompt([1]);
        // token 1: -1 → -2 loses to token 2 (-1.5).
        Assert.Equal(2, negative.Sample(Logits(-3, -1, -1.5f)));
    }

    [Fact]
    public void PresenceAndFrequencyPenaltiesCountOutputTokensOnly()
    {
        var sampler = new Sampler(new SamplingParams { Temperature = 0, PresencePenalty = 0.5f, FrequencyPenalty = 0.25f }, 3);
        sampler.AddPrompt([1]); // the prompt is not penalised
        Assert.Equal(1, sampler.Sample(Logits(0, 1, 0.9f)));
        sampler.Accept(1);
        sampler.Accept(1);
        // token 1: 1 - 0.5 - 2·0.25 = 0 < 0.9
        Assert.Equal(2, sampler.Sample(Logits(0, 1, 0.9f)));
    }

    [Theory]
    [InlineData(-1f, 0, 1f, 0f, "temperature")]
    [InlineData(1f, -1, 1f, 0f, "top_k")]
    [InlineData(1f, 0, 0f, 0f, "top_p")]
    [InlineData(1f, 0, 1.5f, 0f, "top_p")]
    [InlineData(1f, 0, 1f, 2f, "min_p")]
    public void OutOfRangeParametersAreNamed(float temperature, int topK, float topP, float minP, string name)
    {
        var p = new SamplingParams { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP };
        var e = Assert.Throws<ArgumentException>(() => new Sampler(p, 10));
        Assert.Equal(name, e.ParamName);
    }

    [Fact]
    public void SamplingAllocatesNothingPerToken()
    {
        var sampler = new Sampler(new SamplingParams { Temperature = 0.8f, TopP = 0.9f, TopK = 40, RepetitionPenalty = 1.1f, Seed = 1 }, 1000);
        var logits = new float[1000];
        var rng = new Random(2);
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)rng.NextDouble();
        }

        sampler.AddPrompt([1, 2, 3]);
        sampler.Sample(logits);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            sampler.Accept(sampler.Sample(logits));
        }

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 2048);
    }
}
