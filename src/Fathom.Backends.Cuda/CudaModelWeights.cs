using Fathom.Core;
using Fathom.Model;

namespace Fathom.Backends.Cuda;

internal sealed record CudaAttention(
    DeviceMatrix? QA,
    ulong QANorm,
    DeviceMatrix? QB,
    DeviceMatrix? Q,
    DeviceMatrix KvA,
    ulong KvANorm,
    DeviceMatrix KvB,
    DeviceMatrix KeyUpT,
    DeviceMatrix? KeyUpFp8,
    DeviceMatrix O);

internal sealed record CudaFeedForward(DeviceMatrix Gate, DeviceMatrix Up, DeviceMatrix Down);

/// <summary>A MoE layer: router, bias, and per-expert device pointer tables [experts] for the grouped kernels.</summary>
internal sealed record CudaMoe(
    DeviceMatrix Router,
    ulong Bias,
    ulong GatePointers,
    ulong GateScales,
    ulong UpPointers,
    ulong UpScales,
    ulong DownPointers,
    ulong DownScales,
    DeviceMatrix ExpertShape,
    DeviceMatrix DownShape,
    CudaFeedForward? Shared,
    CudaFeedForward[] Experts);

internal sealed record CudaLayer(ulong InputNorm, CudaAttention Attention, ulong PostAttentionNorm, CudaFeedForward? Dense, CudaMoe? Moe);

/// <summary>Every weight the forward pass reads, copied to one GPU in its stored type.</summary>
internal sealed unsafe class CudaModelWeights
{
    public CudaModelWeights(CudaContext gpu, ModelWeights w, ModelConfig config)
    {
        Embed = DeviceMatrix.Upload(gpu, w.Embed, "model.embed_tokens");
        if (Embed.Kind == WeightKind.Fp8)
        {
            throw new NotSupportedException("an FP8 embedding table is not supported");
        }

        Layers = new CudaLayer[w.Layers.Length];
        for (int l = 0; l < Layers.Length; l++)
        {
            Layers[l] = Layer(gpu, w.Layers[l], config, l);
        }

        FinalNorm = DeviceVector.Upload(gpu, w.FinalNorm, "model.norm");
        LmHead = ReferenceEquals(w.LmHead.Owner, w.Embed.Owner) && w.LmHead.RowPointer(0) == w.Embed.RowPointer(0)
            ? Embed
            : DeviceMatrix.Upload(gpu, w.LmHead, "lm_head");
    }

    public DeviceMatrix Embed { get; }

    public CudaLayer[] Layers { get; }

    public ulong FinalNorm { get; }

    public DeviceMatrix LmHead { get; }

    private static unsafe CudaLayer Layer(CudaContext gpu, LayerWeights w, ModelConfig c, int l)
    {
        string p = $"model.layers.{l}";
        var a = w.Attention;
        var attention = new CudaAttention(
            a.QA is { } qa ? DeviceMatrix.Upload(gpu, qa, $"{p}.self_attn.q_a_proj") : null,
            a.QANorm is { } qn ? DeviceVector.Upload(gpu, qn, $"{p}.self_attn.q_a_layernorm") : 0,
            a.QB is { } qb ? DeviceMatrix.Upload(gpu, qb, $"{p}.self_attn.q_b_proj") : null,
            a.Q is { } q ? DeviceMatrix.Upload(gpu, q, $"{p}.self_attn.q_proj") : null,
            DeviceMatrix.Upload(gpu, a.KvA, $"{p}.self_attn.kv_a_proj_with_mqa"),
            DeviceVector.Upload(gpu, a.KvANorm, $"{p}.self_attn.kv_a_layernorm"),
            DeviceMatrix.Upload(gpu, a.KvB, $"{p}.self_attn.kv_b_proj"),
            KeyUpTransposed(gpu, a.KvB, c, $"{p}.self_attn.kv_b_proj"),
            KeyUpTransposedFp8(gpu, a.KvB, c, $"{p}.self_attn.kv_b_proj"),
            DeviceMatrix.Upload(gpu, a.O, $"{p}.self_attn.o_proj"));
        CudaFeedForward? dense = w.Dense is { } d ? Ffn(gpu, d, $"{p}.mlp") : null;
        CudaMoe? moe = null;
        if (w.Moe is { } m)
        {
            int e = m.Experts.Length;
            var gates = new ulong[e];
            var gateScales = new ulong[e];
            var ups = new ulong[e];
            var upScales = new ulong[e];
            var downs = new ulong[e];
            var downScales = new ulong[e];
            var experts = new CudaFeedForward[e];
            DeviceMatrix first = default, firstDown = default;
            for (int i = 0; i < e; i++)
            {
                var ffn = Ffn(gpu, m.Experts[i], $"{p}.mlp.experts.{i}");
                experts[i] = ffn;
                if (i == 0)
                {
                    first = ffn.Gate;
                    firstDown = ffn.Down;
                }
                else if (ffn.Gate.Kind != first.Kind || ffn.Up.Kind != first.Kind || ffn.Down.Kind != first.Kind
                    || ffn.Gate.BlockRows != first.BlockRows || ffn.Gate.BlockCols != first.BlockCols)
                {
                    throw new NotSupportedException($"{p}.mlp.experts: all experts of a layer must share one storage type and block size on the GPU");
                }

                gates[i] = ffn.Gate.Data;
                gateScales[i] = ffn.Gate.Scales;
                ups[i] = ffn.Up.Data;
                upScales[i] = ffn.Up.Scales;
                downs[i] = ffn.Down.Data;
                downScales[i] = ffn.Down.Scales;
            }

            moe = new CudaMoe(
                DeviceMatrix.Upload(gpu, m.Router, $"{p}.mlp.gate"),
                m.Bias is { } bias ? DeviceVector.Upload(gpu, bias, $"{p}.mlp.gate.e_score_correction_bias") : 0,
                Table(gpu, gates),
                Table(gpu, gateScales),
                Table(gpu, ups),
                Table(gpu, upScales),
                Table(gpu, downs),
                Table(gpu, downScales),
                first,
                firstDown,
                m.Shared is { } s ? Ffn(gpu, s, $"{p}.mlp.shared_experts") : null,
                experts);
        }

        return new CudaLayer(
            DeviceVector.Upload(gpu, w.InputNorm, $"{p}.input_layernorm"),
            attention,
            DeviceVector.Upload(gpu, w.PostAttentionNorm, $"{p}.post_attention_layernorm"),
            dense,
            moe);
    }

    /// <summary>
    /// W_UK of every head transposed, [heads · kv_lora_rank, qk_nope]: row h·rank + c holds column c of the
    /// head's key rows of kv_b_proj, so absorbing the query is an ordinary row-streaming product. BF16 stays
    /// BF16 (exact); FP8 is widened to float32 with its block scales (exact), as is F32.
    /// </summary>
    internal static DeviceMatrix KeyUpTransposed(CudaContext gpu, in WeightMatrix kvB, ModelConfig c, string what)
    {
        int heads = c.NumAttentionHeads, nope = c.QkNopeHeadDim, rank = c.KvLoraRank, stride = c.QkNopeHeadDim + c.VHeadDim;
        int rows = heads * rank;
        if (kvB.Type == Fathom.Core.DType.BF16)
        {
            var t = new ushort[(long)rows * nope];
            for (int h = 0; h < heads; h++)
            {
                for (int d = 0; d < nope; d++)
                {
                    var source = new ReadOnlySpan<ushort>(kvB.RowPointer((h * stride) + d), rank);
                    for (int col = 0; col < rank; col++)
                    {
                        t[((long)((h * rank) + col) * nope) + d] = source[col];
                    }
                }
            }

            ulong data = gpu.Allocate(t.Length * 2L, what + " (W_UK transposed)");
            gpu.Upload<ushort>(data, t);
            return new DeviceMatrix(data, 0, WeightKind.BF16, rows, nope, 0, 0, 0);
        }

        var f = new float[(long)rows * nope];
        var row = new float[rank];
        for (int h = 0; h < heads; h++)
        {
            for (int d = 0; d < nope; d++)
            {
                kvB.DequantizeRow((h * stride) + d, row);
                for (int col = 0; col < rank; col++)
                {
                    f[((long)((h * rank) + col) * nope) + d] = row[col];
                }
            }
        }

        ulong p = gpu.Allocate(f.Length * 4L, what + " (W_UK transposed)");
        gpu.Upload<float>(p, f);
        return new DeviceMatrix(p, 0, WeightKind.F32, rows, nope, 0, 0, 0);
    }

    /// <summary>
    /// W_UK transposed as <see cref="KeyUpTransposed"/> but kept in FP8, for the tensor-core passes (a
    /// quarter of the float32 copy's bytes): the stored bytes moved, with scales [rank blocks, nope blocks]
    /// per head. Only where every scale block of the transpose is the transpose of one stored block
    /// (kv_lora_rank a multiple of the block's columns, each head's rows starting on a block row, as in
    /// DeepSeek's checkpoints); null otherwise and for other storage types.
    /// </summary>
    internal static DeviceMatrix? KeyUpTransposedFp8(CudaContext gpu, in WeightMatrix kvB, ModelConfig c, string what)
    {
        int heads = c.NumAttentionHeads, nope = c.QkNopeHeadDim, rank = c.KvLoraRank, stride = c.QkNopeHeadDim + c.VHeadDim;
        int rows = heads * rank;
        if (kvB.Type != Fathom.Core.DType.F8E4M3 || kvB.FirstRow != 0 || rank % kvB.BlockCols != 0 || stride % kvB.BlockRows != 0)
        {
            return null;
        }

        int blockRows = kvB.BlockCols, blockCols = kvB.BlockRows, scaleCols = (nope + blockCols - 1) / blockCols;
        var bytes = new byte[(long)rows * nope];
        var scales = new float[(rows / blockRows) * scaleCols];
        for (int h = 0; h < heads; h++)
        {
            for (int d = 0; d < nope; d++)
            {
                int source = (h * stride) + d;
                var codes = new ReadOnlySpan<byte>(kvB.RowPointer(source), rank);
                for (int col = 0; col < rank; col++)
                {
                    bytes[((long)((h * rank) + col) * nope) + d] = codes[col];
                }

                for (int col = 0; col < rank; col += blockRows)
                {
                    scales[((((h * rank) + col) / blockRows) * scaleCols) + (d / blockCols)] = kvB.ScaleAt(source, col);
                }
            }
        }

        ulong data = gpu.Allocate(bytes.Length, what + " (W_UK transposed)");
        gpu.Upload<byte>(data, bytes);
        ulong scaleData = gpu.Allocate(scales.Length * 4L, what + " (W_UK transposed, block scales)");
        gpu.Upload<float>(scaleData, scales);
        return new DeviceMatrix(data, scaleData, WeightKind.Fp8, rows, nope, blockRows, blockCols, scaleCols);
    }

    private static CudaFeedForward Ffn(CudaContext gpu, FeedForwardWeights w, string prefix) => new(
        DeviceMatrix.Upload(gpu, w.Gate, prefix + ".gate_proj"),
        DeviceMatrix.Upload(gpu, w.Up, prefix + ".up_proj"),
        DeviceMatrix.Upload(gpu, w.Down, prefix + ".down_proj"));

    private static ulong Table(CudaContext gpu, ulong[] pointers)
    {
        ulong p = gpu.Allocate((long)pointers.Length * 8, "expert pointer table");
        gpu.Upload<ulong>(p, pointers);
        return p;
    }
}
