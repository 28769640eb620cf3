using System.Numerics.Tensors;
using Fathom.Model;

namespace Fathom.Engine;

/// <summary>
/// How a model's next-token logits compare with a reference model's on the same text, position by position
/// (every position that perplexity scores): cosine similarity of the logit vectors (mean and worst),
/// relative error ‖model − reference‖ / ‖reference‖ (mean and worst), how often the top-1 tokens agree,
/// and the mean KL divergence KL(reference ‖ model) of the next-token distributions, in nats.
/// </summary>
public sealed record AccuracyComparison(
    int Positions,
    double MeanCosine,
    double WorstCosine,
    int WorstCosinePosition,
    double MeanRelativeError,
    double WorstRelativeError,
    double TopOneAgreement,
    double MeanKlDivergence,
    PerplexityResult Reference);

/// <summary>Model and (optionally) reference scored with the same sliding windows as <see cref="PerplexityEvaluator"/>.</summary>
public sealed record AccuracyResult(PerplexityResult Model, AccuracyComparison? Comparison);

public static class AccuracyEvaluator
{
    public static AccuracyResult Evaluate(
        IForwardPass model, IForwardPass? reference, IReadOnlyList<int> ids, int window, int stride, IProgress<(int Done, int Total)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (reference is null)
        {
            return new AccuracyResult(PerplexityEvaluator.Evaluate(model, ids, window, stride, progress), null);
        }

        if (reference.VocabSize != model.VocabSize)
        {
            throw new ArgumentException($"the reference's vocabulary ({reference.VocabSize}) differs from the model's ({model.VocabSize}); they cannot be compared");
        }

        if (window < 2 || stride < 1 || stride > window)
        {
            throw new ArgumentException($"window must be at least 2 and stride in [1, window] (got window {window}, stride {stride})");
        }

        int limit = Math.Min(model.Config.MaxPositionEmbeddings, reference.Config.MaxPositionEmbeddings);
        if (window > limit)
        {
            throw new ArgumentException($"window {window} exceeds max_position_embeddings {limit}");
        }

        if (ids.Count < 2)
        {
            throw new ArgumentException("evaluation needs at least two tokens", nameof(ids));
        }

        int vocab = model.VocabSize;
        using var modelCache = model.CreateCache(window);
        using var referenceCache = reference.CreateCache(window);
        var a = new float[window * vocab];
        var b = new float[window * vocab];
        double nllModel = 0, nllReference = 0, cosSum = 0, relSum = 0, klSum = 0;
        double worstCos = double.PositiveInfinity, worstRel = 0;
        int worstCosAt = 0, agree = 0, positions = 0, done = 0;
        int total = ScoringWindows.Count(ids.Count, window, stride);
        foreach (var w in ScoringWindows.Enumerate(ids.Count, window, stride))
        {
            int[] chunk = [.. ids.Skip(w.Begin).Take(w.End - w.Begin)];
            modelCache.Truncate(0);
            referenceCache.Truncate(0);
            model.Forward(chunk, modelCache, a, LogitsSelection.All);
            reference.Forward(chunk, referenceCache, b, LogitsSelection.All);
            for (int p = w.FirstTarget; p < w.End; p++)
            {
                var m = a.AsSpan((p - 1 - w.Begin) * vocab, vocab);
                var r = b.AsSpan((p - 1 - w.Begin) * vocab, vocab);
                double lseM = PerplexityEvaluator.LogSumExp(m), lseR = PerplexityEvaluator.LogSumExp(r);
                nllModel += lseM - m[ids[p]];
                nllReference += lseR - r[ids[p]];

                double cos = TensorPrimitives.CosineSimilarity(m, r);
                cosSum += cos;
                if (cos < worstCos)
                {
                    worstCos = cos;
                    worstCosAt = p;
                }

                double diff = 0, norm = 0, kl = 0;
                for (int i = 0; i < vocab; i++)
                {
                    double d = m[i] - r[i];
                    diff += d * d;
                    norm += (double)r[i] * r[i];
                    double logR = r[i] - lseR, logM = m[i] - lseM;
                    kl += Math.Exp(logR) * (logR - logM);
                }

                double rel = Math.Sqrt(diff / Math.Max(norm, double.Epsilon));
                relSum += rel;
                worstRel = Math.Max(worstRel, rel);
                klSum += Math.Max(kl, 0);
                agree += TensorPrimitives.IndexOfMax(m) == TensorPrimitives.IndexOfMax(r) ? 1 : 0;
                positions++;
            }

            done++;
            progress?.Report((done, total));
        }

        var comparison = new AccuracyComparison(
            positions,
            cosSum / positions,
            worstCos,
            worstCosAt,
            relSum / positions,
            worstRel,
            (double)agree / positions,
            klSum / positions,
            new PerplexityResult(positions, nllReference, done));
        return new AccuracyResult(new PerplexityResult(positions, nllModel, done), comparison);
    }
}
