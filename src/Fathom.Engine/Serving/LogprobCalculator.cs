namespace Fathom.Engine.Serving;

/// <summary>Log-probabilities from raw logits: log softmax of the chosen token and of the most likely ones.</summary>
internal static class LogprobCalculator
{
    public static TokenLogprob Compute(ReadOnlySpan<float> logits, int chosen, int top)
    {
        float logZ = (float)PerplexityEvaluator.LogSumExp(logits);
        var best = new List<(int Id, float Logprob)>(top);
        if (top > 0)
        {
            // Keep the top entries sorted best first; ties keep the lower id, as argmax does.
            for (int i = 0; i < logits.Length; i++)
            {
                float v = logits[i];
                if (best.Count == top && !(v > best[^1].Logprob))
                {
                    continue;
                }

                int at = best.Count;
                while (at > 0 && v > best[at - 1].Logprob)
                {
                    at--;
                }

                best.Insert(at, (i, v));
                if (best.Count > top)
                {
                    best.RemoveAt(best.Count - 1);
                }
            }

            for (int i = 0; i < best.Count; i++)
            {
                best[i] = (best[i].Id, best[i].Logprob - logZ);
            }
        }

        return new TokenLogprob(chosen, logits[chosen] - logZ, best);
    }

    /// <summary>
    /// The same from a row's best logits (largest first) and its log-sum-exp; the chosen token must be among
    /// them (it is whenever it was sampled from them) and <paramref name="top"/> must not exceed their count.
    /// </summary>
    public static TokenLogprob FromCandidates(ReadOnlySpan<float> values, ReadOnlySpan<int> ids, float logSumExp, int chosen, int top)
    {
        int at = ids.IndexOf(chosen);
        if (at < 0 || top > ids.Length)
        {
            throw new InvalidOperationException($"token {chosen} or the top {top} are not among the {ids.Length} candidates");
        }

        var best = new List<(int Id, float Logprob)>(Math.Max(top, 0));
        for (int i = 0; i < top; i++)
        {
            best.Add((ids[i], values[i] - logSumExp));
        }

        return new TokenLogprob(chosen, values[at] - logSumExp, best);
    }
}
