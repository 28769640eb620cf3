using Fathom.Model;

namespace Fathom.Backends.Cuda;

/// <summary>
/// Device working memory of a pass, sized once for the largest pass (so captured graphs keep valid
/// addresses): activations [tokens, ...], expert routing, the staging area of the per-pass inputs, the
/// logits of up to <c>logitRows</c> rows, and the bf16-pair copies cuBLASLt reads.
/// </summary>
internal sealed class Buffers
{
    public const long WorkspaceBytes = 32L << 20;

    public Buffers(CudaContext gpu, ModelConfig c, CudaModelWeights w, int tokens, int logitRows, bool bf16, int preparedExpertTokens = 0, int preparedDenseTokens = 0)
    {
        long t = tokens;
        int heads = c.NumAttentionHeads, k = Math.Max(1, c.NumExpertsPerTok), experts = Math.Max(1, c.NRoutedExperts);
        int qLora = c.QLoraRank ?? 0;
        long ffnWidth = c.IntermediateSize, sharedWidth = 1;
        foreach (var layer in w.Layers)
        {
            if (layer.Dense is { } d)
            {
                ffnWidth = Math.Max(ffnWidth, d.Gate.Rows);
            }

            if (layer.Moe is { } m)
            {
                ffnWidth = Math.Max(ffnWidth, (long)k * m.ExpertShape.Rows);
                if (m.Shared is { } s)
                {
                    ffnWidth = Math.Max(ffnWidth, s.Gate.Rows);
                    sharedWidth = Math.Max(sharedWidth, s.Gate.Rows);
                }
            }
        }

        ulong F(long floats, string what) => gpu.Allocate(floats * sizeof(float), what);
        Hidden = F(t * c.HiddenSize, "hidden states");
        Normed = F(t * c.HiddenSize, "normalised hidden states");
        QueryLatent = F(t * Math.Max(qLora, 1), "query latents");
        Query = F(t * heads * c.QkHeadDim, "queries");
        KvA = F(t * c.KvCacheWidth, "kv_a projections");
        AbsorbedQuery = F(t * heads * c.KvCacheWidth, "absorbed queries");
        Mixed = F(t * heads * c.KvLoraRank, "attended latents");
        Attended = F(t * heads * c.VHeadDim, "attention outputs");
        Activation = F(t * ffnWidth, "feed-forward activations");
        ExpertOut = F(t * k * c.HiddenSize, "expert outputs");
        SharedActivation = F(t * sharedWidth, "shared expert activations");
        SharedOut = F(t * c.HiddenSize, "shared expert outputs");
        RouterLogits = F(t * experts, "router logits");
        ExpertIds = F(t * k, "expert choices");
        ExpertWeights = F(t * k, "expert weights");
        ExpertOffsets = F(experts + 1, "expert offsets");
        ExpertOrder = F(t * k, "expert order");
        ExpertActive = F(experts + 1, "experts with tokens");
        PairRow = F(t * k, "expert rows");
        HeadInput = F((long)logitRows * c.HiddenSize, "final norm rows");
        Logits = F((long)logitRows * c.VocabSize, "logits");
        Inputs = gpu.Allocate(new StepInputs(tokens, c.QkRopeHeadDim / 2).Bytes, "pass inputs");
        long ticketBytes = (1 + (t * heads)) * sizeof(int);
        Tickets = gpu.Allocate(ticketBytes, "block tickets");
        gpu.Zero(Tickets, ticketBytes);
        if (bf16)
        {
            long widest = Math.Max(Math.Max(c.HiddenSize, qLora), Math.Max((long)heads * c.VHeadDim, ffnWidth));
            SplitK = F(SplitKFloats, "split-K partial sums");
            Gate = F(t * ffnWidth, "gate products");
            Up = F(t * ffnWidth, "up products");
            InputBf16 = gpu.Allocate((long)AlignedBytes(Math.Max(t, logitRows) * widest * 2) * 2, "bf16-pair activations");
            long largestFp8 = 0;
            long pairs = t * k;
            foreach (var layer in w.Layers)
            {
                if (layer.Moe is { } moe)
                {
                    // The tensor-core expert path: gathered hidden rows [pairs, H] as a bf16 pair, and room
                    // for an FP8 expert widened to a pair.
                    MoeInputBf16 = MoeInputBf16 != 0 ? MoeInputBf16 : gpu.Allocate((long)AlignedBytes(pairs * c.HiddenSize * 2) * 2, "bf16-pair expert inputs");
                    if (moe.ExpertShape.Kind == WeightKind.Fp8)
                    {
                        largestFp8 = Math.Max(largestFp8, Math.Max((long)moe.ExpertShape.Rows * moe.ExpertShape.Cols, (long)moe.DownShape.Rows * moe.DownShape.Cols));
                    }
                }
            }

            foreach (var m in AllDense(w))
            {
                if (m.Kind == WeightKind.Fp8)
                {
                    largestFp8 = Math.Max(largestFp8, (long)m.Rows * m.Cols);
                }
            }

            WeightBf16 = largestFp8 > 0 ? gpu.Allocate((long)AlignedBytes(largestFp8 * 2) * 2, "bf16-pair copy of an FP8 weight") : 0;
            long s = Math.Min(t, preparedDenseTokens);
            if (s > 0 && AllDense(w).Any(m => m.Kind == WeightKind.Fp8))
            {
                // The tensor-core FP8 dense and per-head products' inputs as f16 pairs, and their rows' inverse scales.
                long rowFloats = Math.Max(widest, Math.Max((long)heads * c.QkHeadDim, (long)heads * c.KvLoraRank));
                PreparedDense = F(s * rowFloats, "f16-pair dense inputs");
                PreparedDenseScales = F(s, "f16-pair dense row scales");
            }

            s = Math.Min(t, preparedExpertTokens);
            if (s > 0 && w.Layers.Any(l => l.Moe?.ExpertShape.Kind == WeightKind.Fp8))
            {
                // The tensor-core FP8 expert passes' inputs as f16 pairs (as many bytes as the float32 rows)
                // and the inverse scales of their rows: hidden rows, routed and shared activations.
                PreparedInput = F(s * c.HiddenSize, "f16-pair expert inputs");
                PreparedActivation = F(s * ffnWidth, "f16-pair expert activations");
                PreparedShared = F(s * sharedWidth, "f16-pair shared expert activations");
                PreparedScales = F(s * (k + 2), "f16-pair row scales");
            }
            Workspace = gpu.Allocate(WorkspaceBytes, "cuBLASLt workspace");
        }
    }

    /// <summary>
    /// Bytes rounded up to 256: where the second plane of a bf16 pair starts, so that both planes keep the
    /// 256-byte alignment cuBLASLt's heuristic assumes of its operands.
    /// </summary>
    public static ulong AlignedBytes(long bytes) => (ulong)((bytes + 255) & ~255L);

    public ulong Hidden { get; }

    public ulong Normed { get; }

    public ulong QueryLatent { get; }

    public ulong Query { get; }

    public ulong KvA { get; }

    public ulong AbsorbedQuery { get; }

    public ulong Mixed { get; }

    public ulong Attended { get; }

    public ulong Activation { get; }

    public ulong ExpertOut { get; }

    /// <summary>The shared experts' activations while the routed ones occupy <see cref="Activation"/> (merged launches).</summary>
    public ulong SharedActivation { get; }

    public ulong SharedOut { get; }

    public ulong RouterLogits { get; }

    public ulong ExpertIds { get; }

    public ulong ExpertWeights { get; }

    public ulong ExpertOffsets { get; }

    public ulong ExpertOrder { get; }

    public ulong PairRow { get; }

    public ulong ExpertActive { get; }

    public ulong HeadInput { get; }

    public ulong Logits { get; }

    public ulong Inputs { get; }

    /// <summary>
    /// Counters of the kernels whose last block to finish does a merge step (zero between launches): [0] the
    /// router's expert sort, [1 + t·heads + h] the attention splits of (t, h).
    /// </summary>
    public ulong Tickets { get; }

    /// <summary>Floats of <see cref="SplitK"/>: partial products [splits, tokens, rows] of the split tensor-core products.</summary>
    public const long SplitKFloats = 64L << 17;

    /// <summary>The partial sums of the split-K tensor-core products (bf16 path only).</summary>
    public ulong SplitK { get; }

    public ulong Gate { get; }

    public ulong Up { get; }

    public ulong InputBf16 { get; }

    /// <summary>Hidden rows gathered in expert order as bf16 pairs (0 without MoE layers or bf16 path).</summary>
    public ulong MoeInputBf16 { get; }

    public ulong WeightBf16 { get; }

    /// <summary>The input rows of a tensor-core FP8 dense or per-head product as f16 pairs (f16_pairs in Kernels/mma.cu); 0 when not needed.</summary>
    public ulong PreparedDense { get; }

    /// <summary>Inverse scales of the rows in <see cref="PreparedDense"/>.</summary>
    public ulong PreparedDenseScales { get; }

    /// <summary>Hidden rows of a tensor-core FP8 expert pass as f16 pairs (f16_pairs in Kernels/mma.cu); 0 when not needed.</summary>
    public ulong PreparedInput { get; }

    /// <summary>The routed experts' activations of such a pass as f16 pairs.</summary>
    public ulong PreparedActivation { get; }

    /// <summary>The shared experts' activations of such a pass as f16 pairs.</summary>
    public ulong PreparedShared { get; }

    /// <summary>Inverse scales of the prepared rows: tokens (hidden rows), then tokens · k (routed), then tokens (shared).</summary>
    public ulong PreparedScales { get; }

    public ulong Workspace { get; }

    /// <summary>The weights that can take the cuBLASLt path (everything but experts and routers).</summary>
    private static IEnumerable<DeviceMatrix> AllDense(CudaModelWeights w)
    {
        yield return w.LmHead;
        foreach (var l in w.Layers)
        {
            var a = l.Attention;
            foreach (var m in new[] { a.QA, a.QB, a.Q, a.KvA, a.O })
            {
                if (m is { } x)
                {
                    yield return x;
                }
            }

            foreach (var f in new[] { l.Dense, l.Moe?.Shared })
            {
                if (f is not null)
                {
                    yield return f.Gate;
                    yield return f.Up;
                    yield return f.Down;
                }
            }
        }
    }
}
