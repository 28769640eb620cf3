using Fathom.Core;
using Fathom.Model;

namespace Fathom.Engine;

/// <summary>
/// The weight bytes one decoded token reads, from the matrices the forward pass actually uses (so a model
/// quantized at load time counts its Q8_0 / Q4_K bytes, not the checkpoint's): every dense matrix whole,
/// num_experts_per_tok / n_routed_experts of each MoE layer's routed experts (their expected share), one
/// embedding row, FP8 block scales and the float32 norm vectors. Multiplied by the decode rate this is the
/// memory bandwidth decoding implies; set against a measured bandwidth it says how far from the floor it is.
/// </summary>
public sealed record BenchmarkWeightTraffic(
    long BytesPerToken,
    long DenseBytes,
    long RoutedBytesPerToken,
    long EmbeddingRowBytes,
    IReadOnlyDictionary<DType, long> LinearBytesByType)
{
    /// <summary>The storage type holding most of the decoder layers' linear weights: the model's format.</summary>
    public DType Format => LinearBytesByType.OrderByDescending(p => p.Value).ThenBy(p => p.Key).First().Key;

    public static BenchmarkWeightTraffic Compute(ModelWeights weights, ModelConfig config)
    {
        var byType = new SortedDictionary<DType, long>();
        long dense = 0, routed = 0;

        long Linear(WeightMatrix? matrix)
        {
            if (matrix is not { IsEmpty: false } m)
            {
                return 0;
            }

            byType[m.Type] = byType.GetValueOrDefault(m.Type) + m.StorageBytes;
            return Bytes(m);
        }

        long Ffn(FeedForwardWeights? f) => f is null ? 0 : Linear(f.Gate) + Linear(f.Up) + Linear(f.Down);

        foreach (var layer in weights.Layers)
        {
            var a = layer.Attention;
            dense += Floats(layer.InputNorm) + Floats(layer.PostAttentionNorm) + Floats(a.QANorm) + Floats(a.KvANorm);
            dense += Linear(a.QA) + Linear(a.QB) + Linear(a.Q) + Linear(a.KvA) + Linear(a.KvB) + Linear(a.O);
            dense += Ffn(layer.Dense);
            if (layer.Moe is { } moe)
            {
                dense += Bytes(moe.Router) + Floats(moe.Bias) + Ffn(moe.Shared);
                long experts = moe.Experts.Sum(Ffn);
                routed += experts * config.NumExpertsPerTok / Math.Max(1, config.NRoutedExperts);
            }
        }

        dense += Floats(weights.FinalNorm) + Bytes(weights.LmHead);
        long embedRow = weights.Embed.StorageBytes / Math.Max(1, weights.Embed.Rows);
        return new BenchmarkWeightTraffic(dense + routed + embedRow, dense, routed, embedRow, byType);
    }

    /// <summary>Stored bytes plus, for FP8, the float32 scale of every block the matrix touches.</summary>
    public static long Bytes(WeightMatrix m)
    {
        if (m.IsEmpty)
        {
            return 0;
        }

        long bytes = m.StorageBytes;
        if (m.Type == DType.F8E4M3 && m.BlockScales is not null)
        {
            bytes += (long)((m.Rows + m.BlockRows - 1) / m.BlockRows) * ((m.Cols + m.BlockCols - 1) / m.BlockCols) * sizeof(float);
        }

        return bytes;
    }

    private static long Floats(float[]? values) => values is null ? 0 : (long)values.Length * sizeof(float);
}
