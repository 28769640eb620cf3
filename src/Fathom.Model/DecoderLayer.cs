using Fathom.Core;

namespace Fathom.Model;

/// <summary>A pre-norm decoder layer: h += MLA(norm(h)); h += FFN(norm(h)).</summary>
internal sealed class DecoderLayer
{
    private readonly LayerWeights _w;
    private readonly IBackend _backend;
    private readonly float _eps;
    private readonly MlaAttention _attention;
    private readonly IFeedForward _feedForward;

    public DecoderLayer(ModelConfig config, int index, LayerWeights weights, IBackend backend)
    {
        Index = index;
        _w = weights;
        _backend = backend;
        _eps = (float)config.RmsNormEps;
        _attention = new MlaAttention(config, weights.Attention, backend);
        _feedForward = weights.Moe is { } moe
            ? new MoeFeedForward(config, moe, backend)
            : new DenseFeedForward(weights.Dense!, backend);
    }

    /// <summary>The layer's index in the cache.</summary>
    public int Index { get; }

    /// <param name="hidden">[rows, hidden_size] of every sequence of the batch, updated in place.</param>
    public void Forward(Span<float> hidden, BatchLayout batch, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, MlaMode mode, Scratch scratch)
    {
        int size = hidden.Length, n = batch.TotalRows;
        var normed = scratch.Span(Buffer.Normed, size);
        var delta = scratch.Span(Buffer.Residual, size);
        _backend.RmsNorm(hidden, _w.InputNorm, _eps, normed);
        _attention.Forward(normed, batch, Index, cos, sin, delta, mode, scratch);
        _backend.ScaleAdd(delta, 1f, hidden);

        _backend.RmsNorm(hidden, _w.PostAttentionNorm, _eps, normed);
        _feedForward.Forward(normed, n, delta, scratch);
        _backend.ScaleAdd(delta, 1f, hidden);
    }
}
