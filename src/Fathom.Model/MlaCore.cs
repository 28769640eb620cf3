using Fathom.Core;

namespace Fathom.Model;

/// <summary>
/// Attention of n new queries over the MLA cache of one layer (positions [0, start + n), the new rows
/// already written). The query arrives projected and roped: [n, heads, qk_nope + qk_rope].
/// </summary>
internal abstract class MlaCore(ModelConfig config, WeightMatrix kvB, IBackend backend)
{
    protected int Heads { get; } = config.NumAttentionHeads;

    protected int Nope { get; } = config.QkNopeHeadDim;

    protected int Rope { get; } = config.QkRopeHeadDim;

    protected int ValueDim { get; } = config.VHeadDim;

    protected int Latent { get; } = config.KvLoraRank;

    protected float Scale { get; } = (float)config.SoftmaxScale;

    protected IBackend Backend { get; } = backend;

    /// <summary>W_UK of a head: the kv_b_proj rows [qk_nope, kv_lora_rank] that make its keys.</summary>
    protected WeightMatrix KeyUp(int head) => kvB.SliceRows(head * (Nope + ValueDim), Nope);

    /// <summary>W_UV of a head: the kv_b_proj rows [v_head_dim, kv_lora_rank] that make its values.</summary>
    protected WeightMatrix ValueUp(int head) => kvB.SliceRows((head * (Nope + ValueDim)) + Nope, ValueDim);

    /// <summary>Both of a head's blocks: [qk_nope + v_head_dim, kv_lora_rank].</summary>
    protected WeightMatrix HeadUp(int head) => kvB.SliceRows(head * (Nope + ValueDim), Nope + ValueDim);

    public abstract void Attend(ReadOnlySpan<float> query, int n, int start, IKvCache cache, int layer, Span<float> output, Scratch scratch);

    /// <summary>Scales a row of scores, hides the future of the query at <paramref name="position"/>, and normalises.</summary>
    protected void CausalSoftmax(Span<float> scores, int position)
    {
        var visible = scores[..(position + 1)];
        for (int t = 0; t < visible.Length; t++)
        {
            visible[t] *= Scale;
        }

        Backend.Softmax(visible);
        scores[(position + 1)..].Clear();
    }
}

/// <summary>
/// The absorbed form used for decoding: W_UK is folded into the query and W_UV applied after the
/// weighted sum, so attention runs directly on the cached latents: score = (W_UKᵀ q_nope)·c + q_pe·k_pe.
/// </summary>
internal sealed class AbsorbedMla(ModelConfig config, WeightMatrix kvB, IBackend backend) : MlaCore(config, kvB, backend)
{
    public override void Attend(ReadOnlySpan<float> query, int n, int start, IKvCache cache, int layer, Span<float> output, Scratch scratch)
    {
        int total = start + n;
        int width = Latent + Rope;
        int qStride = Nope + Rope;
        int rows = n * Heads;
        var fullQuery = scratch.Span(Buffer.HeadQuery, rows * width);   // [n, heads, kv_lora + rope]
        var nope = scratch.Span(Buffer.HeadOut, n * Math.Max(Nope, ValueDim));
        var latent = scratch.Span(Buffer.HeadLatent, n * Latent);
        for (int h = 0; h < Heads; h++)
        {
            for (int i = 0; i < n; i++)
            {
                query.Slice((((i * Heads) + h) * qStride), Nope).CopyTo(nope.Slice(i * Nope, Nope));
            }

            Backend.MatMulTransposed(KeyUp(h), nope[..(n * Nope)], latent, n);   // [n, kv_lora]
            for (int i = 0; i < n; i++)
            {
                var row = fullQuery.Slice(((i * Heads) + h) * width, width);
                latent.Slice(i * Latent, Latent).CopyTo(row);
                query.Slice((((i * Heads) + h) * qStride) + Nope, Rope).CopyTo(row[Latent..]);
            }
        }

        // A paged cache is gathered once per layer into one [total, width] block (page-sized copies).
        var rowsArray = cache.ContiguousRows(layer);
        if (rowsArray is null)
        {
            rowsArray = scratch.Array(Buffer.GatheredKv, total * width);
            cache.CopyRows(layer, total, rowsArray.AsSpan(0, total * width));
        }

        var scores = scratch.Span(Buffer.Scores, rows * total);          // [n, heads, total]
        Backend.MatMul(WeightMatrix.FromPinned(rowsArray, total, width), fullQuery, scores, rows);
        for (int r = 0; r < rows; r++)
        {
            CausalSoftmax(scores.Slice(r * total, total), start + (r / Heads));
        }

        var mixed = scratch.Span(Buffer.Latents, rows * Latent);         // [n, heads, kv_lora]
        Backend.MatMulTransposed(WeightMatrix.FromPinned(rowsArray, total, Latent, 0, width), scores, mixed, rows);
        var values = scratch.Span(Buffer.Keys, n * ValueDim);
        for (int h = 0; h < Heads; h++)
        {
            for (int i = 0; i < n; i++)
            {
                mixed.Slice(((i * Heads) + h) * Latent, Latent).CopyTo(latent.Slice(i * Latent, Latent));
            }

            Backend.MatMul(ValueUp(h), latent, values, n);                // [n, v_head_dim]
            for (int i = 0; i < n; i++)
            {
                values.Slice(i * ValueDim, ValueDim).CopyTo(output.Slice(((i * Heads) + h) * ValueDim, ValueDim));
            }
        }
    }
}

/// <summary>
/// The expanded form, as written in the papers: keys and values of every cached position are rebuilt per
/// head from the latents through kv_b_proj, then ordinary attention runs over [k_nope | k_pe].
/// </summary>
internal sealed class ExpandedMla(ModelConfig config, WeightMatrix kvB, IBackend backend) : MlaCore(config, kvB, backend)
{
    public override void Attend(ReadOnlySpan<float> query, int n, int start, IKvCache cache, int layer, Span<float> output, Scratch scratch)
    {
        int total = start + n;
        int qStride = Nope + Rope;
        int kvStride = Nope + ValueDim;
        var latents = scratch.Span(Buffer.Latents, total * Latent);      // [total, kv_lora]
        for (int t = 0; t < total; t++)
        {
            cache.Row(layer, t)[..Latent].CopyTo(latents.Slice(t * Latent, Latent));
        }

        var kvArray = scratch.Array(Buffer.ExpandedKv, total * kvStride); // [total, nope + v]
        var keyArray = scratch.Array(Buffer.Keys, total * qStride);       // [total, nope + rope]
        var headQuery = scratch.Span(Buffer.HeadQuery, n * qStride);
        var scores = scratch.Span(Buffer.Scores, n * total);
        var headOut = scratch.Span(Buffer.HeadOut, n * ValueDim);
        for (int h = 0; h < Heads; h++)
        {
            var kv = kvArray.AsSpan(0, total * kvStride);
            Backend.MatMul(HeadUp(h), latents, kv, total);
            for (int t = 0; t < total; t++)
            {
                var key = keyArray.AsSpan(t * qStride, qStride);
                kv.Slice(t * kvStride, Nope).CopyTo(key);
                cache.Row(layer, t)[Latent..].CopyTo(key[Nope..]);
            }

            for (int i = 0; i < n; i++)
            {
                query.Slice(((i * Heads) + h) * qStride, qStride).CopyTo(headQuery.Slice(i * qStride, qStride));
            }

            Backend.MatMul(WeightMatrix.FromPinned(keyArray, total, qStride), headQuery, scores, n);
            for (int i = 0; i < n; i++)
            {
                CausalSoftmax(scores.Slice(i * total, total), start + i);
            }

            var value = WeightMatrix.FromPinned(kvArray, total, ValueDim, Nope, kvStride);
            Backend.MatMulTransposed(value, scores, headOut, n);
            for (int i = 0; i < n; i++)
            {
                headOut.Slice(i * ValueDim, ValueDim).CopyTo(output.Slice(((i * Heads) + h) * ValueDim, ValueDim));
            }
        }
    }
}
