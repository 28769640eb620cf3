using Fathom.Core;

namespace Fathom.Model;

/// <summary>MLA projections of one layer; exactly one of (QA, QANorm, QB) or Q is present.</summary>
public sealed record AttentionWeights(
    WeightMatrix? QA,
    float[]? QANorm,
    WeightMatrix? QB,
    WeightMatrix? Q,
    WeightMatrix KvA,
    float[] KvANorm,
    WeightMatrix KvB,
    WeightMatrix O);

/// <summary>A SwiGLU feed-forward network: down(silu(gate x) ⊙ up x).</summary>
public sealed record FeedForwardWeights(WeightMatrix Gate, WeightMatrix Up, WeightMatrix Down)
{
    public int Width => Gate.Rows;
}

/// <summary>Router, routed experts and (optional) shared experts of one MoE layer.</summary>
public sealed record MoeWeights(WeightMatrix Router, float[]? Bias, FeedForwardWeights[] Experts, FeedForwardWeights? Shared);

/// <summary>One decoder layer: exactly one of Dense or Moe.</summary>
public sealed record LayerWeights(
    float[] InputNorm,
    AttentionWeights Attention,
    float[] PostAttentionNorm,
    FeedForwardWeights? Dense,
    MoeWeights? Moe);

/// <summary>A multi-token-prediction module (layer index num_hidden_layers + k), kept for speculative decoding.</summary>
public sealed record MtpWeights(
    int Layer,
    float[] ENorm,
    float[] HNorm,
    WeightMatrix EhProj,
    LayerWeights Block,
    float[] HeadNorm,
    WeightMatrix Head,
    WeightMatrix Embed);

public sealed record ModelWeights(
    WeightMatrix Embed,
    LayerWeights[] Layers,
    float[] FinalNorm,
    WeightMatrix LmHead,
    MtpWeights[] Mtp,
    IReadOnlyList<string> UnusedTensors);
