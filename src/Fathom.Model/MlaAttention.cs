using Fathom.Core;

namespace Fathom.Model;

/// <summary>How attention is evaluated over the latent cache.</summary>
public enum MlaMode
{
    /// <summary>Absorbed for single-token decode steps, expanded for prefill.</summary>
    Auto,
    Absorbed,
    Expanded,
}

/// <summary>
/// Multi-head latent attention: projects queries (through the q-LoRA when the model has one), compresses
/// the new tokens into the cache (normalised latent + roped shared key), attends, and projects out.
/// </summary>
internal sealed class MlaAttention
{
    private readonly ModelConfig _config;
    private readonly AttentionWeights _w;
    private readonly IBackend _backend;
    private readonly float _eps;
    private readonly MlaCore _absorbed;
    private readonly MlaCore _expanded;

    public MlaAttention(ModelConfig config, AttentionWeights weights, IBackend backend)
    {
        _config = config;
        _w = weights;
        _backend = backend;
        _eps = (float)config.RmsNormEps;
        _absorbed = new AbsorbedMla(config, weights.KvB, backend);
        _expanded = new ExpandedMla(config, weights.KvB, backend);
    }

    /// <param name="x">[n, hidden] normalised input.</param>
    /// <param name="cos">[n, qk_rope / 2] for the new positions; <paramref name="sin"/> likewise.</param>
    /// <param name="output">[n, hidden].</param>
    public void Forward(ReadOnlySpan<float> x, int n, KvCache cache, int layer, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, Span<float> output, MlaMode mode, Scratch scratch)
    {
        var c = _config;
        int heads = c.NumAttentionHeads, qStride = c.QkHeadDim, rope = c.QkRopeHeadDim, pairs = rope / 2;
        int start = cache.Length;
        if (start + n > cache.Capacity)
        {
            throw new InvalidOperationException($"the KV cache holds {cache.Capacity} tokens; {start} + {n} do not fit");
        }

        var query = scratch.Span(Buffer.Query, n * heads * qStride);    // [n, heads, nope + rope]
        if (_w.Q is { } q)
        {
            _backend.MatMul(q, x, query, n);
        }
        else
        {
            int rank = _w.QA!.Value.Rows;
            var compressed = scratch.Span(Buffer.QueryLatent, n * rank); // [n, q_lora]
            _backend.MatMul(_w.QA.Value, x, compressed, n);
            _backend.RmsNorm(compressed, _w.QANorm, _eps, compressed);
            _backend.MatMul(_w.QB!.Value, compressed, query, n);
        }

        var kv = scratch.Span(Buffer.KvA, n * c.KvCacheWidth);          // [n, kv_lora + rope]
        _backend.MatMul(_w.KvA, x, kv, n);
        for (int i = 0; i < n; i++)
        {
            var rowCos = cos.Slice(i * pairs, pairs);
            var rowSin = sin.Slice(i * pairs, pairs);
            var source = kv.Slice(i * c.KvCacheWidth, c.KvCacheWidth);
            var row = cache.Row(layer, start + i);
            _backend.RmsNorm(source[..c.KvLoraRank], _w.KvANorm, _eps, row[..c.KvLoraRank]);
            source[c.KvLoraRank..].CopyTo(row[c.KvLoraRank..]);
            _backend.RopeInterleaved(row[c.KvLoraRank..], rowCos, rowSin);
            for (int h = 0; h < heads; h++)
            {
                _backend.RopeInterleaved(query.Slice((((i * heads) + h) * qStride) + c.QkNopeHeadDim, rope), rowCos, rowSin);
            }
        }

        bool absorbed = mode == MlaMode.Absorbed || (mode == MlaMode.Auto && n == 1);
        var attended = scratch.Span(Buffer.AttentionOut, n * heads * c.VHeadDim); // [n, heads, v_head_dim]
        (absorbed ? _absorbed : _expanded).Attend(query, n, start, cache, layer, attended, scratch);
        _backend.MatMul(_w.O, attended, output, n);
    }
}
