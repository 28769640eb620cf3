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

    /// <param name="x">[rows, hidden] normalised input of every sequence in <paramref name="batch"/>, in order.</param>
    /// <param name="cos">[rows, qk_rope / 2] for each row's position; <paramref name="sin"/> likewise.</param>
    /// <param name="output">[rows, hidden].</param>
    public void Forward(ReadOnlySpan<float> x, BatchLayout batch, int layer, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, Span<float> output, MlaMode mode, Scratch scratch)
    {
        var c = _config;
        int n = batch.TotalRows;
        int heads = c.NumAttentionHeads, qStride = c.QkHeadDim, rope = c.QkRopeHeadDim, pairs = rope / 2;

        // Projections run once over the rows of all sequences.
        var query = scratch.Span(Buffer.Query, n * heads * qStride);    // [rows, heads, nope + rope]
        if (_w.Q is { } q)
        {
            _backend.MatMul(q, x, query, n);
        }
        else
        {
            int rank = _w.QA!.Value.Rows;
            var compressed = scratch.Span(Buffer.QueryLatent, n * rank); // [rows, q_lora]
            _backend.MatMul(_w.QA.Value, x, compressed, n);
            _backend.RmsNorm(compressed, _w.QANorm, _eps, compressed);
            _backend.MatMul(_w.QB!.Value, compressed, query, n);
        }

        var kv = scratch.Span(Buffer.KvA, n * c.KvCacheWidth);          // [rows, kv_lora + rope]
        _backend.MatMul(_w.KvA, x, kv, n);
        var attended = scratch.Span(Buffer.AttentionOut, n * heads * c.VHeadDim); // [rows, heads, v_head_dim]

        // Each sequence writes its own cache rows and attends over its own cache.
        for (int s = 0; s < batch.Count; s++)
        {
            var cache = batch.Caches[s];
            int first = batch.RowStart[s], count = batch.RowCount[s], start = cache.Length;
            for (int i = first; i < first + count; i++)
            {
                var rowCos = cos.Slice(i * pairs, pairs);
                var rowSin = sin.Slice(i * pairs, pairs);
                var source = kv.Slice(i * c.KvCacheWidth, c.KvCacheWidth);
                var row = cache.Row(layer, start + i - first);
                _backend.RmsNorm(source[..c.KvLoraRank], _w.KvANorm, _eps, row[..c.KvLoraRank]);
                source[c.KvLoraRank..].CopyTo(row[c.KvLoraRank..]);
                _backend.RopeInterleaved(row[c.KvLoraRank..], rowCos, rowSin);
                for (int h = 0; h < heads; h++)
                {
                    _backend.RopeInterleaved(query.Slice((((i * heads) + h) * qStride) + c.QkNopeHeadDim, rope), rowCos, rowSin);
                }
            }

            bool absorbed = mode == MlaMode.Absorbed || (mode == MlaMode.Auto && count == 1);
            (absorbed ? _absorbed : _expanded).Attend(
                query.Slice(first * heads * qStride, count * heads * qStride),
                count,
                start,
                cache,
                layer,
                attended.Slice(first * heads * c.VHeadDim, count * heads * c.VHeadDim),
                scratch);
        }

        _backend.MatMul(_w.O, attended, output, n);
    }
}
