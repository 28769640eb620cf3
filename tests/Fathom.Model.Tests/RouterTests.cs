using Fathom.Model;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>Router.Route on examples worked out by hand for each DeepSeek routing variant.</summary>
public sealed class RouterTests
{
    // sigmoid of these logits: 0.880797, 0.268941, 0.5, 0.622459 | 0.817574, 0.731059, 0.119203, 0.952574
    private static readonly float[] SigmoidLogits = [2, -1, 0, 0.5f, 1.5f, 1, -2, 3];

    // softmax of these logits: 0.3172427, 0.0007864 | 0.1924174, 0.1924174 | 0.0157946, 0.0157946 | 0.2597364, 0.0058105
    private static readonly float[] SoftmaxLogits = [3, -3, 2.5f, 2.5f, 0, 0, 2.8f, -1];

    [Fact]
    public void NoAuxTcKeepsTheGroupsWithTheLargestTopTwoSums()
    {
        // Groups of two: sums 1.1497, 1.1225, 1.5486, 1.0718 keep groups 2 and 0, so expert 7 (the single best
        // score, 0.9526, in group 3) is out; a max-per-group rule would have kept group 3.
        var router = Create(8, 2, 4, 2, ScoringFunction.Sigmoid, TopKMethod.NoAuxTc, normalise: true, scale: 2.5, new float[8]);
        AssertRoute(router, SigmoidLogits, [0, 4], [1.2965318f, 1.2034682f]);
    }

    [Fact]
    public void NoAuxTcScoresAGroupByItsTopTwoNotByItsTotal()
    {
        // Group 0 (0.900, 0.846, 0.010, 0.010): top two 1.746, total 1.766.
        // Group 1 (0.802 x 4): top two 1.604, total 3.209. Keeping one group: group 0.
        float[] logits = [2.2f, 1.7f, -4.6f, -4.6f, 1.4f, 1.4f, 1.4f, 1.4f, -1, -1, -1, -1];
        var router = Create(12, 2, 3, 1, ScoringFunction.Sigmoid, TopKMethod.NoAuxTc, normalise: true, scale: 2.5, new float[12]);
        AssertRoute(router, logits, [0, 1], [1.2891764f, 1.2108236f]);
    }

    [Fact]
    public void NoAuxTcBiasChangesTheSelectionButNotTheWeights()
    {
        // +0.2 on expert 5 lifts its selection score to 0.931, above expert 0's 0.881 and expert 4's 0.818: experts 5
        // and 0 are chosen, weighted by their unbiased scores 0.731 and 0.881 (so the first chosen weighs less).
        float[] bias = [0, 0, 0, 0, 0, 0.2f, 0, 0];
        var router = Create(8, 2, 4, 2, ScoringFunction.Sigmoid, TopKMethod.NoAuxTc, normalise: true, scale: 2.5, bias);
        AssertRoute(router, SigmoidLogits, [5, 0], [1.1338772f, 1.3661228f]);
    }

    [Fact]
    public void NoAuxTcBiasChangesWhichGroupsAreKept()
    {
        // +0.3 on expert 6 raises group 3's sum to 1.3718, above group 0's 1.1497: groups 2 and 3 are kept.
        float[] bias = [0, 0, 0, 0, 0, 0, 0.3f, 0];
        var router = Create(8, 2, 4, 2, ScoringFunction.Sigmoid, TopKMethod.NoAuxTc, normalise: true, scale: 2.5, bias);
        AssertRoute(router, SigmoidLogits, [7, 4], [1.3453307f, 1.1546693f]);
    }

    [Fact]
    public void NormTopKProbOffKeepsTheScaledScores()
    {
        var router = Create(8, 2, 4, 2, ScoringFunction.Sigmoid, TopKMethod.NoAuxTc, normalise: false, scale: 2.5, new float[8]);
        AssertRoute(router, SigmoidLogits, [0, 4], [2.2019927f, 2.0439362f]);
    }

    [Fact]
    public void NormalisedWeightsSumToTheRoutedScalingFactor()
    {
        var router = Create(8, 3, 4, 2, ScoringFunction.Sigmoid, TopKMethod.NoAuxTc, normalise: true, scale: 2.5, new float[8]);
        var weights = AssertRoute(router, SigmoidLogits, [0, 4, 5], [0.9063824f, 0.8413233f, 0.7522943f]);
        Assert.Equal(2.5, weights.Sum(), 1e-6);
    }

    [Fact]
    public void MaskedGroupsScoreZeroAsInHuggingFace()
    {
        // Every biased score in the kept group is negative, so the masked experts' 0.0 wins (Hugging Face fills
        // 0.0, which the golden data follows; the official code's -inf would choose experts 0 and 1).
        float[] bias = [-0.6f, -0.7f, -0.9f, -0.9f];
        var router = Create(4, 2, 2, 1, ScoringFunction.Sigmoid, TopKMethod.NoAuxTc, normalise: true, scale: 1, bias);
        AssertRoute(router, [0, 0, 0, 0], [2, 3], [0.5f, 0.5f]);
    }

    [Fact]
    public void SoftmaxGreedyTakesTheTopScoresWithoutNormalising()
    {
        var router = Create(8, 3, 1, 1, ScoringFunction.Softmax, TopKMethod.Greedy, normalise: false, scale: 2, null);
        AssertRoute(router, SoftmaxLogits, [0, 6, 2], [0.6344854f, 0.5194727f, 0.3848349f]);
    }

    [Fact]
    public void GreedyIgnoresGroups()
    {
        var router = Create(8, 3, 4, 2, ScoringFunction.Softmax, TopKMethod.Greedy, normalise: false, scale: 2, null);
        AssertRoute(router, SoftmaxLogits, [0, 6, 2], [0.6344854f, 0.5194727f, 0.3848349f]);
    }

    [Fact]
    public void GroupLimitedGreedyKeepsTheGroupsWithTheBestMaximum()
    {
        // Group maxima 0.317, 0.192, 0.016, 0.260 keep groups 0 and 3; by sums group 1 (0.385) would win.
        var router = Create(8, 3, 4, 2, ScoringFunction.Softmax, TopKMethod.GroupLimitedGreedy, normalise: false, scale: 2, null);
        AssertRoute(router, SoftmaxLogits, [0, 6, 7], [0.6344854f, 0.5194727f, 0.0116210f]);
    }

    [Fact]
    public void ChoicesComeBestFirstWithTiesToTheLowerIndex()
    {
        var router = Create(5, 3, 1, 1, ScoringFunction.Softmax, TopKMethod.Greedy, normalise: false, scale: 1, null);
        var experts = Route(router, [1, 5, 3, 5, 2], 3, out _);
        Assert.Equal([1, 3, 2], experts);
    }

    [Fact]
    public void AllExpertsChosenComeInDescendingOrder()
    {
        var router = Create(6, 6, 1, 1, ScoringFunction.Sigmoid, TopKMethod.Greedy, normalise: false, scale: 1, null);
        var experts = Route(router, [0.5f, -1, 4, 0.5f, 2, -3], 6, out var weights);
        Assert.Equal([2, 4, 0, 3, 1, 5], experts);
        for (int j = 1; j < weights.Length; j++)
        {
            Assert.True(weights[j] <= weights[j - 1]);
        }
    }

    [Fact]
    public void EqualScoresAreChosenInIndexOrder()
    {
        var router = Create(8, 4, 1, 1, ScoringFunction.Sigmoid, TopKMethod.Greedy, normalise: true, scale: 1, null);
        var experts = Route(router, new float[8], 4, out var weights);
        Assert.Equal([0, 1, 2, 3], experts);
        Assert.All(weights, w => Assert.Equal(0.25f, w, 1e-6f));
    }

    [Fact]
    public void RoutingTheSameTokenTwiceGivesTheSameAnswer()
    {
        var router = Create(8, 2, 4, 2, ScoringFunction.Sigmoid, TopKMethod.NoAuxTc, normalise: true, scale: 2.5, [0, 0, 0, 0, 0, 0.2f, 0, 0]);
        var first = Route(router, SigmoidLogits, 2, out var w1);
        Route(router, SoftmaxLogits, 2, out _);
        var again = Route(router, SigmoidLogits, 2, out var w2);
        Assert.Equal(first, again);
        Assert.Equal(w1, w2);
    }

    private static Router Create(
        int experts, int perToken, int groups, int keptGroups, ScoringFunction scoring, TopKMethod method, bool normalise, double scale, float[]? bias) =>
        new(TestConfigs.Router(experts, perToken, groups, keptGroups, scoring, method, normalise, scale), bias);

    private static int[] Route(Router router, float[] logits, int k, out float[] weights)
    {
        var experts = new int[k];
        weights = new float[experts.Length];
        router.Route(logits, experts, weights);
        return experts;
    }

    private static float[] AssertRoute(Router router, float[] logits, int[] expectedExperts, float[] expectedWeights)
    {
        var experts = new int[expectedExperts.Length];
        var weights = new float[expectedExperts.Length];
        router.Route(logits, experts, weights);
        Assert.Equal(expectedExperts, experts);
        for (int j = 0; j < weights.Length; j++)
        {
            Assert.True(Math.Abs(weights[j] - expectedWeights[j]) <= 1e-6, $"weight {j}: {weights[j]:R}, expected {expectedWeights[j]:R}");
        }

        return weights;
    }
}
