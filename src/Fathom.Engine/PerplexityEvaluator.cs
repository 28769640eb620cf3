using Fathom.Model;

namespace Fathom.Engine;

public sealed record PerplexityResult(int ScoredTokens, double NegativeLogLikelihood, int Windows)
{
    public double Perplexity => Math.Exp(NegativeLogLikelihood / ScoredTokens);
}

/// <summary>
/// Sliding-window perplexity of a token stream. Windows [begin, min(begin + window, N)) start at
/// 0, stride, 2·stride, …; each scores only the targets the previous window did not (the first scores
/// positions 1… from their prefixes), so every token after the first is scored once, with at least
/// window − stride tokens of context after the first window. Stops after the window that reaches N.
/// </summary>
public static class PerplexityEvaluator
{
    public static PerplexityResult Evaluate(IForwardPass transformer, IReadOnlyList<int> ids, int window, int stride, IProgress<(int Done, int Total)>? progress = null, CancellationToken cancellation = default)
    {
        if (window < 2)
        {
            throw new ArgumentException($"window must be at least 2 tokens (got {window})", nameof(window));
        }

        if (stride < 1 || stride > window)
        {
            throw new ArgumentException($"stride must be in [1, window = {window}] (got {stride})", nameof(stride));
        }

        if (window > transformer.Config.MaxPositionEmbeddings)
        {
            throw new ArgumentException($"window {window} exceeds the model's max_position_embeddings {transformer.Config.MaxPositionEmbeddings}", nameof(window));
        }

        if (ids.Count < 2)
        {
            throw new ArgumentException("perplexity needs at least two tokens", nameof(ids));
        }

        int vocab = transformer.VocabSize;
        int total = ScoringWindows.Count(ids.Count, window, stride);
        using var cache = transformer.CreateCache(window);
        var logits = new float[window * vocab];
        double nll = 0;
        int scored = 0, done = 0;
        foreach (var w in ScoringWindows.Enumerate(ids.Count, window, stride))
        {
            cancellation.ThrowIfCancellationRequested();
            int[] chunk = [.. ids.Skip(w.Begin).Take(w.End - w.Begin)];
            cache.Truncate(0);
            transformer.Forward(chunk, cache, logits, LogitsSelection.All);
            for (int p = w.FirstTarget; p < w.End; p++)
            {
                var row = logits.AsSpan((p - 1 - w.Begin) * vocab, vocab);
                nll += LogSumExp(row) - row[ids[p]];
                scored++;
            }

            done++;
            progress?.Report((done, total));
        }

        return new PerplexityResult(scored, nll, done);
    }

    /// <summary>log Σ exp(row), computed stably.</summary>
    internal static double LogSumExp(ReadOnlySpan<float> row) => LogSumExpCore(row);

    private static double LogSumExpCore(ReadOnlySpan<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (float v in row)
        {
            max = MathF.Max(max, v);
        }

        double sum = 0;
        foreach (float v in row)
        {
            sum += Math.Exp(v - max);
        }

        return max + Math.Log(sum);
    }
}
