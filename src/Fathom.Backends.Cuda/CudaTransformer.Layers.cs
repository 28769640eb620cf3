using Fathom.Model;

namespace Fathom.Backends.Cuda;

/// <summary>The kernel sequence of one pass; written like the math of Transformer/DecoderLayer on the host.</summary>
public sealed partial class CudaTransformer
{
    private void Body(int n, StepInputs layout, int splits, int headRows)
    {
        var c = _c;
        int hidden = c.HiddenSize, heads = c.NumAttentionHeads, qk = c.QkHeadDim, latent = c.KvLoraRank, width = c.KvCacheWidth;
        int pairs = c.QkRopeHeadDim / 2;
        float eps = (float)c.RmsNormEps;
        bool lt = _lt is not null && n >= _options.CublasMinTokens;
        _mmaPass = lt && n <= _options.TensorCoreStreamingMaxTokens;
        ulong inputs = _b.Inputs;
        ulong ids = inputs + (ulong)layout.Ids, seqOf = inputs + (ulong)layout.Seq, lenOf = inputs + (ulong)layout.Len;
        ulong slotOf = inputs + (ulong)layout.Slots, cos = inputs + (ulong)layout.Cos, sin = inputs + (ulong)layout.Sin;
        ulong chunk = inputs + (ulong)layout.Chunk;

        _gpu.Launch(_w.Embed.Kind == WeightKind.BF16 ? "embed_bf16" : "embed_f32", (uint)n, 1, 1, 256, 0, ids, _w.Embed.Data, hidden, _b.Hidden, false);
        CudaMoe? uncombined = null;
        for (int l = 0; l < _w.Layers.Length; l++)
        {
            var layer = _w.Layers[l];
            var a = layer.Attention;
            if (uncombined is not null && CombineTakesNorm && !lt)
            {
                Combine(uncombined, n, layer.InputNorm);
            }
            else
            {
                if (uncombined is not null)
                {
                    Combine(uncombined, n, 0);
                }

                RmsNorm(_b.Hidden, hidden, 0, layer.InputNorm, hidden, _b.Normed, n);
            }

            uncombined = null;

            // Queries [n, heads, nope + rope], through the q-LoRA when the model has one, and the new tokens'
            // latents and roped keys (kv_a), which go straight into their cache rows: both products of the
            // normed rows, in one launch on the streaming path.
            var first = a.QA ?? a.Q!.Value;
            ulong firstOut = a.QA is null ? _b.Query : _b.QueryLatent;
            if (!lt && SameBlocks(first, a.KvA))
            {
                LinearTwo(first, firstOut, a.KvA, _b.KvA, _b.Normed, n);
            }
            else
            {
                Linear(first, _b.Normed, firstOut, first.Rows, n, accumulate: false, lt);
                Linear(a.KvA, _b.Normed, _b.KvA, width, n, accumulate: false, lt);
            }

            if (a.QA is { } qa)
            {
                RmsNorm(_b.QueryLatent, qa.Rows, 0, a.QANorm, qa.Rows, _b.QueryLatent, n);
                Linear(a.QB!.Value, _b.QueryLatent, _b.Query, heads * qk, n, accumulate: false, lt);
            }

            ulong cache = _pool.Layer(l);
            // Absorbed queries [n, heads, latent | rope]: W_UKᵀ q_nope per head, then the roped q_pe.
            // The new cache rows are written by one more row of blocks of the same launch when that row has a
            // block per token (decode); a prefill chunk writes them in a launch of its own, a block per token.
            var kvb = a.KvB;
            var keyUp = a.KeyUpT;
            int absorbBlocks = (latent + 15) / 16;
            if (_mmaPass && _options.MmaHeads && a.KeyUpFp8 is { } keyUp8 && TensorCoreStreams(keyUp8) && MmaHeads(keyUp8, latent, 0))
            {
                MmaHeadGemm(keyUp8, latent, 0, latent, _b.Query, qk, (long)heads * qk, _b.AbsorbedQuery, width, (long)heads * width, n);
                _gpu.Launch(
                    "mla_cache_write", (uint)n, 1, 1, 256, 0,
                    _b.KvA, a.KvANorm, eps, latent, pairs, cos, sin, slotOf, cache, _b.Query, heads, qk, c.QkNopeHeadDim, _b.AbsorbedQuery);
            }
            else if (n <= absorbBlocks)
            {
                _gpu.Launch(
                    KernelNames.Absorb(keyUp.Kind, n), (uint)absorbBlocks, (uint)heads + 1, 1, 256, 0,
                    keyUp.Data, keyUp.Scales, (long)latent, latent, c.QkNopeHeadDim, keyUp.BlockRows, keyUp.BlockCols, keyUp.ScaleCols, _b.Query, (long)qk, (long)heads * qk, _b.AbsorbedQuery, (long)width, (long)heads * width, n,
                    _b.KvA, a.KvANorm, eps, latent, pairs, cos, sin, slotOf, cache, qk, c.QkNopeHeadDim);
            }
            else
            {
                _gpu.Launch(
                    KernelNames.HeadGemm(keyUp.Kind, n), (uint)absorbBlocks, (uint)heads, 1, 256, 0,
                    keyUp.Data, keyUp.Scales, (long)latent, 0L, latent, c.QkNopeHeadDim, keyUp.BlockRows, keyUp.BlockCols, keyUp.ScaleCols, _b.Query, (long)qk, (long)heads * qk, _b.AbsorbedQuery, (long)width, (long)heads * width, n, false);
                _gpu.Launch(
                    "mla_cache_write", (uint)n, 1, 1, 256, 0,
                    _b.KvA, a.KvANorm, eps, latent, pairs, cos, sin, slotOf, cache, _b.Query, heads, qk, c.QkNopeHeadDim, _b.AbsorbedQuery);
            }

            // Decode: each (token, head)'s last split to finish merges the splits into Mixed; larger passes
            // merge them in a launch of their own.
            uint attentionShared = (uint)((width + AttentionChunkLimit) * sizeof(float));
            if (!lt)
            {
                _gpu.Launch(
                    "mla_attention_merged", (uint)n, (uint)heads, (uint)splits, 128, attentionShared,
                    _b.AbsorbedQuery, cache, width, latent, seqOf, lenOf, _pool.Tables, _pool.PagesPerSequence, _pool.PageTokens, chunk, (float)c.SoftmaxScale, heads, splits, _partial,
                    _b.Tickets + sizeof(int), _b.Mixed);
            }
            else
            {
                _gpu.Launch(
                    "mla_attention", (uint)n, (uint)heads, (uint)splits, 128, attentionShared,
                    _b.AbsorbedQuery, cache, width, latent, seqOf, lenOf, _pool.Tables, _pool.PagesPerSequence, _pool.PageTokens, chunk, (float)c.SoftmaxScale, heads, splits, _partial);
                _gpu.Launch("mla_combine", (uint)(n * heads), 1, 1, 128, (uint)(2 * splits * sizeof(float)), _partial, splits, latent, _b.Mixed);
            }
            int stride = c.QkNopeHeadDim + c.VHeadDim;
            if (_mmaPass && _options.MmaHeads && TensorCoreStreams(kvb) && MmaHeads(kvb, stride, c.QkNopeHeadDim))
            {
                MmaHeadGemm(kvb, stride, c.QkNopeHeadDim, c.VHeadDim, _b.Mixed, latent, (long)heads * latent, _b.Attended, c.VHeadDim, (long)heads * c.VHeadDim, n);
            }
            else
            {
                _gpu.Launch(
                    KernelNames.HeadGemm(kvb.Kind, n), (uint)((c.VHeadDim + 15) / 16), (uint)heads, 1, 256, 0,
                    kvb.Data, kvb.Scales, (long)stride, (long)c.QkNopeHeadDim, c.VHeadDim, latent, kvb.BlockRows, kvb.BlockCols, kvb.ScaleCols,
                    _b.Mixed, (long)latent, (long)heads * latent, _b.Attended, (long)c.VHeadDim, (long)heads * c.VHeadDim, n, false);
            }

            Linear(a.O, _b.Attended, _b.Hidden, hidden, n, accumulate: true, lt);

            if (layer.Dense is { } dense)
            {
                RmsNorm(_b.Hidden, hidden, 0, layer.PostAttentionNorm, hidden, _b.Normed, n);
                FeedForward(dense, n, _b.Hidden, accumulate: true, lt);
            }
            else
            {
                Moe(layer.Moe!, n, lt, layer.PostAttentionNorm);
                uncombined = layer.Moe;
            }
        }

        if (uncombined is not null)
        {
            Combine(uncombined, n, 0);
        }

        if (headRows > 0)
        {
            Head(_b.Hidden, inputs + (ulong)layout.Rows, headRows);
        }
    }

    /// <summary>Most (token, expert) pairs the router launch sorts itself (one block of 32 threads, quadratic).</summary>
    private const int SortInRouterPairs = 64;

    /// <summary>Warps per block of moe_gate_route (two router rows each; as many route the tokens).</summary>
    private const int GateRouteWarps = 8;

    /// <summary>Widest row the norms inside moe_gate_route and moe_combine_rmsnorm take: 8 float4 per thread of 256 (rmsnorm's vector path).</summary>
    private const int NormRowLimit = 8 * 4 * 256;

    /// <summary>Dynamic shared memory moe_gate_route may take beside sort_pairs' static 8.2 KB (48 KB without opt-in).</summary>
    private const int GateRouteScratchLimit = 38 * 1024;

    /// <summary>route_scratch_bytes of moe.cu: scores and choices (floats), taken flags, group scores and flags.</summary>
    private static int RouteScratchBytes(int experts) => (experts * 8) + ((experts + 3) & ~3) + (64 * 8);

    /// <summary>
    /// The experts of a MoE layer on RMSNorm(hidden) with <paramref name="norm"/>, up to their weighted sum:
    /// that is added to the hidden rows by <see cref="Combine"/>, fused with the next layer's input norm where
    /// one follows.
    /// </summary>
    private void Moe(CudaMoe moe, int n, bool lt, ulong norm)
    {
        Route(moe, n, norm);

        // On the streaming paths the shared experts ride along in the routed experts' launches.
        bool mma = _mmaPass && TensorCoreStreams(moe.ExpertShape) && TensorCoreStreams(moe.DownShape);
        var merged = (!lt || mma) && moe.Shared is { } sh && sh.Gate.Kind == moe.ExpertShape.Kind && sh.Down.Kind == moe.DownShape.Kind
            && SameBlocks(sh.Gate, moe.ExpertShape) && sh.Down.BlockRows == moe.DownShape.BlockRows && sh.Down.BlockCols == moe.DownShape.BlockCols
            && (!mma || TensorCoreStreams(sh.Down))
            ? sh
            : null;
        if (merged is null && moe.Shared is { } s)
        {
            FeedForward(s, n, _b.SharedOut, accumulate: false, lt);
        }

        if (mma)
        {
            StreamedExperts(moe, n, merged, tensorCores: true);
        }
        else if (lt && _eager && moe.ExpertShape.Kind != WeightKind.F32)
        {
            GroupedExperts(moe, n);
        }
        else
        {
            StreamedExperts(moe, n, merged, tensorCores: false);
        }
    }

    /// <summary>DeepSeek's top-k method as route_token numbers it (0 greedy, 1 group-limited greedy, 2 noaux_tc).</summary>
    private int RouterMethod => _c.TopKMethod switch { TopKMethod.Greedy => 0, TopKMethod.GroupLimitedGreedy => 1, _ => 2 };

    /// <summary>The router's scoring as route_token numbers it (0 softmax, 1 sigmoid).</summary>
    private int RouterScoring => _c.ScoringFunc == ScoringFunction.Sigmoid ? 1 : 0;

    /// <summary>
    /// RMSNorm(hidden) with <paramref name="norm"/> into Normed, the router's product, the routing and the
    /// (token, slot) pairs sorted by expert.
    /// </summary>
    private void Route(CudaMoe moe, int n, ulong norm)
    {
        var c = _c;
        int hidden = c.HiddenSize, k = c.NumExpertsPerTok, experts = c.NRoutedExperts;
        int method = RouterMethod, scoring = RouterScoring;
        // Small passes: the router's product, routing and sort in one launch (moe_gate_route), which norms the
        // rows too where they fit its shared memory. Otherwise the product first (the router runs in float32 on
        // unrounded products, as Hugging Face's gate does); then a few pairs are sorted by the routing launch's
        // last block, many by their own launch of 256 threads.
        int routeScratch = Math.Min(n, GateRouteWarps) * RouteScratchBytes(experts);
        int normedScratch = ((routeScratch + 15) & ~15) + (n * hidden * sizeof(float));
        bool normInRouter = _options.NormInRouter && hidden % 4 == 0 && hidden <= NormRowLimit && normedScratch <= GateRouteScratchLimit;
        var router = moe.Router;
        if (n * k <= SortInRouterPairs && routeScratch <= GateRouteScratchLimit)
        {
            if (!normInRouter)
            {
                RmsNorm(_b.Hidden, hidden, 0, norm, hidden, _b.Normed, n);
            }

            _gpu.Launch(
                KernelNames.GateRoute(router.Kind), (uint)((experts + (2 * GateRouteWarps) - 1) / (2 * GateRouteWarps)), 1, 1, 32 * GateRouteWarps,
                (uint)(normInRouter ? normedScratch : routeScratch),
                router.Data, router.Scales, hidden, router.BlockRows, router.BlockCols, router.ScaleCols, normInRouter ? _b.Hidden : _b.Normed, (long)hidden, n, _b.RouterLogits,
                moe.Bias, experts, k, c.NGroup, c.TopKGroup, scoring, method, c.NormTopKProb, (float)c.RoutedScalingFactor, _b.ExpertIds, _b.ExpertWeights,
                _b.Tickets, _b.ExpertOffsets, _b.ExpertOrder, _b.PairRow, _b.ExpertActive,
                normInRouter ? norm : 0UL, (float)c.RmsNormEps, _b.Normed);
            return;
        }

        RmsNorm(_b.Hidden, hidden, 0, norm, hidden, _b.Normed, n);
        if (n * k <= SortInRouterPairs)
        {
            Gemv(router, _b.Normed, hidden, _b.RouterLogits, experts, n, accumulate: false, round: false);
            _gpu.Launch(
                "moe_route_sort", (uint)n, 1, 1, 32, 0,
                _b.RouterLogits, moe.Bias, experts, k, c.NGroup, c.TopKGroup, scoring, method, c.NormTopKProb, (float)c.RoutedScalingFactor, _b.ExpertIds, _b.ExpertWeights,
                _b.Tickets, _b.ExpertOffsets, _b.ExpertOrder, _b.PairRow, _b.ExpertActive);
        }
        else
        {
            Gemv(router, _b.Normed, hidden, _b.RouterLogits, experts, n, accumulate: false, round: false);
            _gpu.Launch(
                "moe_route", (uint)n, 1, 1, 32, 0,
                _b.RouterLogits, moe.Bias, experts, k, c.NGroup, c.TopKGroup, scoring, method, c.NormTopKProb, (float)c.RoutedScalingFactor, _b.ExpertIds, _b.ExpertWeights);
            _gpu.Launch("moe_sort", 1, 1, 1, 256, 0, _b.ExpertIds, n * k, experts, _b.ExpertOffsets, _b.ExpertOrder, _b.PairRow, _b.ExpertActive);
        }
    }

    /// <summary>Whether <see cref="Combine"/> can fold a norm into the combine (rows in registers: see moe_combine_rmsnorm).</summary>
    private bool CombineTakesNorm => _c.NumExpertsPerTok <= 16 && _c.HiddenSize % 4 == 0 && _c.HiddenSize <= NormRowLimit;

    /// <summary>
    /// hidden += shared experts + Σ weight · routed expert row, for the MoE layer just run; with a norm weight
    /// also normed = RMSNorm(hidden) in the same launch (the next layer's input norm).
    /// </summary>
    private void Combine(CudaMoe moe, int n, ulong norm)
    {
        int hidden = _c.HiddenSize, k = _c.NumExpertsPerTok;
        ulong shared = moe.Shared is null ? 0 : _b.SharedOut;
        if (norm != 0)
        {
            _gpu.Launch("moe_combine_rmsnorm", (uint)n, 1, 1, 256, 0, _b.ExpertOut, _b.PairRow, _b.ExpertWeights, k, hidden, shared, _b.Hidden, norm, (float)_c.RmsNormEps, _b.Normed);
            return;
        }

        _gpu.Launch("moe_combine", (uint)n, (uint)((hidden + 255) / 256), 1, 256, 0, _b.ExpertOut, _b.PairRow, _b.ExpertWeights, k, hidden, shared, _b.Hidden, false);
    }

    /// <summary>
    /// Expert products by the weight-streaming kernels: every chosen expert's rows once per pass; with
    /// <paramref name="shared"/> the shared experts in more grid rows of the same two launches (into
    /// SharedOut). <paramref name="tensorCores"/>: the mma.cu kernels (16 rows of gate and up, or 32 rows
    /// of down, per warp of a 4-warp block; the shared experts first, one grid row per eight tokens: see
    /// shared_groups), else the float32 ones of gemv.cu (8 warps; the shared experts in the last grid row).
    /// </summary>
    private void StreamedExperts(CudaMoe moe, int n, CudaFeedForward? shared, bool tensorCores)
    {
        int hidden = _c.HiddenSize, k = _c.NumExpertsPerTok, experts = _c.NRoutedExperts;
        uint chosen = (uint)Math.Min(experts, n * k);
        var g = moe.ExpertShape;
        var d = moe.DownShape;
        int width = g.Rows, sharedWidth = shared?.Gate.Rows ?? 0;
        uint extra = shared is null ? 0u : tensorCores ? (uint)((n + 7) / 8) : 1u;
        if (tensorCores && g.Kind == WeightKind.Fp8 && d.Kind == WeightKind.Fp8 && _options.MmaPreparedInputs && _b.PreparedInput != 0 && n <= _options.TensorCoreStreamingMaxTokens)
        {
            PreparedExperts(moe, n, shared, chosen + extra);
            return;
        }

        _gpu.Launch(
            tensorCores ? KernelNames.MmaMoeGateUp(g.Kind) : KernelNames.MoeGateUp(g.Kind, n),
            (uint)((Math.Max(width, sharedWidth) + (tensorCores ? 63 : 7)) / (tensorCores ? 64 : 8)), chosen + extra, 1, tensorCores ? 128u : 256u, 0,
            moe.GatePointers, moe.GateScales, moe.UpPointers, moe.UpScales, width, hidden, g.BlockRows, g.BlockCols, g.ScaleCols, _b.Normed, (long)hidden, _b.ExpertOffsets, _b.ExpertActive, _b.ExpertOrder, k, _b.Activation,
            shared?.Gate.Data ?? 0, shared?.Gate.Scales ?? 0, shared?.Up.Data ?? 0, shared?.Up.Scales ?? 0, sharedWidth, n, _b.SharedActivation);

        // One row per warp for the shared experts' down rows (n = 1): they are as long as all their widths.
        bool oneRow = !tensorCores && shared is not null && OneRowPerWarp(hidden, n);
        int downRows = tensorCores ? 128 : oneRow ? 8 : 16;
        _gpu.Launch(
            tensorCores ? KernelNames.MmaMoeDown(d.Kind) : oneRow ? KernelNames.MoeDownOneRow(d.Kind) : KernelNames.MoeDown(d.Kind, n),
            (uint)((hidden + downRows - 1) / downRows), chosen + extra, 1, tensorCores ? 128u : 256u, 0,
            moe.DownPointers, moe.DownScales, hidden, width, d.BlockRows, d.BlockCols, d.ScaleCols, _b.Activation, _b.ExpertOffsets, _b.ExpertActive, _b.ExpertOut,
            shared?.Down.Data ?? 0, shared?.Down.Scales ?? 0, sharedWidth, shared?.Down.ScaleCols ?? 0, _b.SharedActivation, _b.SharedOut, n);
    }

    /// <summary>
    /// The tensor-core FP8 expert products on prepared inputs: the hidden rows as f16 pairs, gate/up (routed and
    /// shared rows of one launch), their activations as f16 pairs, down. See f16_pairs in Kernels/mma.cu.
    /// </summary>
    private void PreparedExperts(CudaMoe moe, int n, CudaFeedForward? shared, uint gridRows)
    {
        int hidden = _c.HiddenSize, k = _c.NumExpertsPerTok;
        var g = moe.ExpertShape;
        var d = moe.DownShape;
        int width = g.Rows, sharedWidth = shared?.Gate.Rows ?? 0;
        ulong inputScales = _b.PreparedScales, actScales = inputScales + (ulong)(n * sizeof(float)), sharedScales = actScales + (ulong)(n * k * sizeof(float));
        _gpu.Launch("f16_pairs", (uint)n, 1, 1, 128, 0, _b.Normed, n, hidden, _b.PreparedInput, inputScales, 0UL, 0, 0UL, 0UL);
        _gpu.Launch(
            KernelNames.MmaMoeGateUpPrepared, (uint)((Math.Max(width, sharedWidth) + 63) / 64), gridRows, 1, 128, 0,
            moe.GatePointers, moe.GateScales, moe.UpPointers, moe.UpScales, width, hidden, g.BlockRows, g.BlockCols, g.ScaleCols, _b.PreparedInput, (long)hidden, _b.ExpertOffsets, _b.ExpertActive, _b.ExpertOrder, k, _b.Activation,
            shared?.Gate.Data ?? 0, shared?.Gate.Scales ?? 0, shared?.Up.Data ?? 0, shared?.Up.Scales ?? 0, sharedWidth, n, _b.SharedActivation, inputScales);
        int sharedRows = shared is null ? 0 : n;
        _gpu.Launch(
            "f16_pairs", (uint)((n * k) + sharedRows), 1, 1, 128, 0,
            _b.Activation, n * k, width, _b.PreparedActivation, actScales, _b.SharedActivation, sharedWidth, _b.PreparedShared, sharedScales);
        _gpu.Launch(
            KernelNames.MmaMoeDownPrepared, (uint)((hidden + 127) / 128), gridRows, 1, 128, 0,
            moe.DownPointers, moe.DownScales, hidden, width, d.BlockRows, d.BlockCols, d.ScaleCols, _b.PreparedActivation, _b.ExpertOffsets, _b.ExpertActive, _b.ExpertOut,
            shared?.Down.Data ?? 0, shared?.Down.Scales ?? 0, sharedWidth, shared?.Down.ScaleCols ?? 0, _b.PreparedShared, _b.SharedOut, n, actScales, sharedScales);
    }

    /// <summary>
    /// Expert products on the tensor cores for large passes (prefill): the hidden rows gathered in expert
    /// order as bf16 pairs, then per expert with tokens one cuBLASLt pair product each for gate, up and
    /// down over its slice of rows (the offsets come back to the host first, so not in a captured graph).
    /// Same layouts as the streaming kernels: activations and outputs in pair-rank order.
    /// </summary>
    private unsafe void GroupedExperts(CudaMoe moe, int n)
    {
        int hidden = _c.HiddenSize, k = _c.NumExpertsPerTok, experts = _c.NRoutedExperts, width = moe.ExpertShape.Rows, pairs = n * k;
        _gpu.DownloadAsync(_hostOffsets, _b.ExpertOffsets, (experts + 1) * sizeof(int));
        ulong xHi = _b.MoeInputBf16, xLo = _b.MoeInputBf16 + Buffers.AlignedBytes((long)pairs * hidden * 2);
        _gpu.Launch("moe_gather_pair", (uint)pairs, 1, 1, 256, 0, _b.Normed, (long)hidden, _b.ExpertOrder, k, pairs, hidden, xHi, xLo);
        _gpu.Synchronize();
        for (int e = 0; e < experts; e++)
        {
            int start = _hostOffsets[e], count = _hostOffsets[e + 1] - start;
            if (count == 0)
            {
                continue;
            }

            var f = moe.Experts[e];
            ulong rowsHi = xHi + (ulong)((long)start * hidden * 2), rowsLo = xLo + (ulong)((long)start * hidden * 2);
            ExpertPair(f.Gate, rowsHi, rowsLo, count, _b.Gate + (ulong)((long)start * width * 4), width);
            ExpertPair(f.Up, rowsHi, rowsLo, count, _b.Up + (ulong)((long)start * width * 4), width);
        }

        long total = (long)pairs * width;
        _gpu.Launch("silu_mul", (uint)Math.Min((total + 255) / 256, 65535), 1, 1, 256, 0, _b.Gate, _b.Up, total, _b.Activation, false);
        ulong aHi = _b.InputBf16, aLo = _b.InputBf16 + Buffers.AlignedBytes(total * 2);
        _gpu.Launch("to_bf16_pair", (uint)Math.Min((total + 255) / 256, 65535), 1, 1, 256, 0, _b.Activation, total, aHi, aLo);
        for (int e = 0; e < experts; e++)
        {
            int start = _hostOffsets[e], count = _hostOffsets[e + 1] - start;
            if (count == 0)
            {
                continue;
            }

            ulong offset = (ulong)((long)start * width * 2);
            ExpertPair(moe.Experts[e].Down, aHi + offset, aLo + offset, count, _b.ExpertOut + (ulong)((long)start * hidden * 4), hidden);
        }
    }

    /// <summary>y[count, ldy] = x · Wᵀ for one expert's rows, x a bf16 pair; an FP8 W is widened to a pair first.</summary>
    private void ExpertPair(in DeviceMatrix w, ulong xHi, ulong xLo, int count, ulong y, int ldy)
    {
        var (wHi, wLo) = WeightPair(w);
        _lt!.LinearPair(wHi, wLo, w.Rows, w.Cols, xHi, xLo, count, y, ldy, accumulate: false, _gpu.Stream, loose: true);
    }

    /// <summary>W as a bf16 pair for the tensor cores: a BF16 W as it is (no low part), an FP8 W widened into the pair buffer.</summary>
    private (ulong Hi, ulong Lo) WeightPair(in DeviceMatrix w)
    {
        if (w.Kind != WeightKind.Fp8)
        {
            return (w.Data, 0);
        }

        long elements = (long)w.Rows * w.Cols;
        ulong hi = _b.WeightBf16, lo = _b.WeightBf16 + Buffers.AlignedBytes(elements * 2);
        _gpu.Launch("fp8_to_bf16_pair", (uint)Math.Min((elements + 255) / 256, 65535), 1, 1, 256, 0, w.Data, w.Scales, w.Rows, w.Cols, w.BlockRows, w.BlockCols, w.ScaleCols, hi, lo);
        return (hi, lo);
    }

    /// <summary>output (+)= down(silu(gate · normed) ⊙ up · normed).</summary>
    private void FeedForward(CudaFeedForward f, int n, ulong output, bool accumulate, bool lt)
    {
        int hidden = _c.HiddenSize, width = f.Gate.Rows;
        if (lt && f.Gate.Kind != WeightKind.F32)
        {
            Linear(f.Gate, _b.Normed, _b.Gate, width, n, accumulate: false, lt);
            Linear(f.Up, _b.Normed, _b.Up, width, n, accumulate: false, lt);
            long count = (long)n * width;
            _gpu.Launch("silu_mul", (uint)Math.Min((count + 255) / 256, 65535), 1, 1, 256, 0, _b.Gate, _b.Up, count, _b.Activation, false);
        }
        else
        {
            var g = f.Gate;
            _gpu.Launch(
                KernelNames.GateUp(g.Kind, n), (uint)((width + 7) / 8), 1, 1, 256, 0,
                g.Data, g.Scales, f.Up.Data, f.Up.Scales, width, hidden, g.BlockRows, g.BlockCols, g.ScaleCols, _b.Normed, (long)hidden, n, _b.Activation, false);
        }

        Linear(f.Down, _b.Activation, output, hidden, n, accumulate, lt);
    }

    /// <summary>Final norm of the chosen rows and the LM head into the logits buffer.</summary>
    private void Head(ulong hiddenRows, ulong rowIndex, int rows)
    {
        int hidden = _c.HiddenSize;
        RmsNorm(hiddenRows, hidden, rowIndex, _w.FinalNorm, hidden, _b.HeadInput, rows);
        var head = _w.LmHead;
        bool lt = _lt is not null && rows >= _options.CublasMinTokens;
        if (lt && _options.MmaBf16Head && head.Kind == WeightKind.BF16 && rows <= _options.TensorCoreStreamingMaxTokens && head.Cols % 32 == 0)
        {
            // A bf16 head read once for all rows (the pair product of cuBLASLt reads it once per half).
            _gpu.Launch(
                KernelNames.MmaGemm(head.Kind, rows), (uint)((head.Rows + 127) / 128), 1, 1, 128, 0,
                head.Data, head.Scales, head.Rows, head.Cols, head.BlockRows, head.BlockCols, head.ScaleCols, _b.HeadInput, (long)head.Cols, _b.Logits, (long)VocabSize, rows, false);
            return;
        }

        Linear(head, _b.HeadInput, _b.Logits, VocabSize, rows, accumulate: false, lt);
    }

    private void RmsNorm(ulong x, int ldx, ulong rows, ulong weight, int width, ulong y, int n) =>
        _gpu.Launch("rmsnorm", (uint)n, 1, 1, 256, 0, x, (long)ldx, rows, weight, width, (float)_c.RmsNormEps, y, (long)width, false);

    /// <summary>
    /// y[n, N] (+)= x[n, K] · Wᵀ: on the tensor-core path cuBLASLt products of bf16 pairs (x = x_hi + x_lo,
    /// and for FP8 W = W_hi + W_lo; a BF16 W is exact as it is), accumulated in float32 as x_hi·W_hi +
    /// x_lo·W_hi (+ x_hi·W_lo); the streaming kernel otherwise.
    /// </summary>
    private void Linear(in DeviceMatrix w, ulong x, ulong y, int ldy, int n, bool accumulate, bool lt)
    {
        if (lt && w.Kind != WeightKind.F32)
        {
            if (_mmaPass && TensorCoreStreams(w))
            {
                // Too few 128-row blocks to fill the GPU (a 2048-row matrix is 16, and ran at a tenth of the
                // bandwidth): split over the columns, the partial sums added in split order.
                int blocks = (w.Rows + 127) / 128, splits = SplitK.Plan(w.Rows, w.Cols, w.BlockCols, n, _gpu.Multiprocessors, Buffers.SplitKFloats, out int kChunk);
                if (PreparesDense(w, n))
                {
                    ulong inv = PrepareDense(x, w.Cols, n);
                    if (splits > 1)
                    {
                        _gpu.Launch(
                            KernelNames.MmaGemmSplitPrepared(n), (uint)blocks, (uint)splits, 1, 128, 0,
                            w.Data, w.Scales, w.Rows, w.Cols, w.BlockRows, w.BlockCols, w.ScaleCols, _b.PreparedDense, (long)w.Cols, _b.SplitK, n, kChunk, inv);
                        long sums = (long)n * w.Rows;
                        _gpu.Launch("splitk_reduce", (uint)Math.Min((sums + 255) / 256, 1024), 1, 1, 256, 0, _b.SplitK, splits, n, w.Rows, y, (long)ldy, accumulate);
                        return;
                    }

                    _gpu.Launch(
                        KernelNames.MmaGemmPrepared(n), (uint)blocks, 1, 1, 128, 0,
                        w.Data, w.Scales, w.Rows, w.Cols, w.BlockRows, w.BlockCols, w.ScaleCols, _b.PreparedDense, (long)w.Cols, y, (long)ldy, n, accumulate, inv);
                    return;
                }

                if (splits > 1)
                {
                    _gpu.Launch(
                        KernelNames.MmaGemmSplit(w.Kind, n), (uint)blocks, (uint)splits, 1, 128, 0,
                        w.Data, w.Scales, w.Rows, w.Cols, w.BlockRows, w.BlockCols, w.ScaleCols, x, (long)w.Cols, _b.SplitK, n, kChunk);
                    long outputs = (long)n * w.Rows;
                    _gpu.Launch("splitk_reduce", (uint)Math.Min((outputs + 255) / 256, 1024), 1, 1, 256, 0, _b.SplitK, splits, n, w.Rows, y, (long)ldy, accumulate);
                    return;
                }

                _gpu.Launch(
                    KernelNames.MmaGemm(w.Kind, n), (uint)blocks, 1, 1, 128, 0,
                    w.Data, w.Scales, w.Rows, w.Cols, w.BlockRows, w.BlockCols, w.ScaleCols, x, (long)w.Cols, y, (long)ldy, n, accumulate);
                return;
            }

            long count = (long)n * w.Cols;
            ulong xHi = _b.InputBf16, xLo = _b.InputBf16 + Buffers.AlignedBytes(count * 2);
            _gpu.Launch("to_bf16_pair", (uint)Math.Min((count + 255) / 256, 65535), 1, 1, 256, 0, x, count, xHi, xLo);
            var (wHi, wLo) = WeightPair(w);
            _lt!.LinearPair(wHi, wLo, w.Rows, w.Cols, xHi, xLo, n, y, ldy, accumulate, _gpu.Stream);
            return;
        }

        Gemv(w, x, w.Cols, y, ldy, n, accumulate, round: false);
    }

    /// <summary>
    /// Whether a pass of <see cref="_mmaPass"/> streams this weight through the tensor-core kernels: FP8 rows
    /// in whole 64-column chunks inside scale blocks of whole 16-row tiles (cuBLASLt would need them widened
    /// in memory first). BF16 weights measured faster on cuBLASLt (dense) and the float32 streaming kernels
    /// (experts); the kernels take them too (rows in whole 32-column chunks) and the tests run them.
    /// </summary>
    private static bool TensorCoreStreams(in DeviceMatrix w) =>
        w.Kind == WeightKind.Fp8 && w.Cols % 64 == 0 && w.BlockCols % 64 == 0 && w.BlockRows % 16 == 0;

    /// <summary>
    /// Whether the per-head products of <paramref name="w"/> (rows [h·headRows + rowOffset, + N) for head h) can
    /// take mma_head_gemm: each head's first row starts a scale block (and so a 16-row tile).
    /// </summary>
    private static bool MmaHeads(in DeviceMatrix w, int headRows, int rowOffset) =>
        w.BlockRows > 0 && headRows % w.BlockRows == 0 && rowOffset % w.BlockRows == 0;

    /// <summary>
    /// Per-head tensor-core products of a pass (blockIdx.y = head h): y + h·yHead [n, ldy] = (x + h·xHead) [n,
    /// ldx] · W_hᵀ with W_h = rows [h·headRows + rowOffset, + rows) of <paramref name="w"/>.
    /// </summary>
    private void MmaHeadGemm(in DeviceMatrix w, int headRows, int rowOffset, int rows, ulong x, long xHead, long ldx, ulong y, long yHead, long ldy, int n)
    {
        if (PreparesDense(w, n))
        {
            ulong inv = PrepareDense(x, (int)ldx, n);
            _gpu.Launch(
                KernelNames.MmaHeadGemmPrepared(n), (uint)((rows + 127) / 128), (uint)_c.NumAttentionHeads, 1, 128, 0,
                w.Data, w.Scales, (long)headRows, (long)rowOffset, rows, w.Cols, w.BlockRows, w.BlockCols, w.ScaleCols, _b.PreparedDense, xHead, ldx, y, yHead, ldy, n, inv);
            return;
        }

        _gpu.Launch(
            KernelNames.MmaHeadGemm(w.Kind, n), (uint)((rows + 127) / 128), (uint)_c.NumAttentionHeads, 1, 128, 0,
            w.Data, w.Scales, (long)headRows, (long)rowOffset, rows, w.Cols, w.BlockRows, w.BlockCols, w.ScaleCols, x, xHead, ldx, y, yHead, ldy, n);
    }

    /// <summary>Whether a tensor-core product of FP8 <paramref name="w"/> over <paramref name="n"/> rows takes prepared inputs (<see cref="CudaOptions.MmaPreparedDense"/>).</summary>
    private bool PreparesDense(in DeviceMatrix w, int n) =>
        _options.MmaPreparedDense && _b.PreparedDense != 0 && w.Kind == WeightKind.Fp8 && n <= _options.TensorCoreStreamingMaxTokens;

    /// <summary>
    /// The rows x [n, cols] (cols a multiple of 4) as f16 pairs into <see cref="Buffers.PreparedDense"/> (same
    /// layout, f16_pairs in Kernels/mma.cu); returns their inverse scales.
    /// </summary>
    private ulong PrepareDense(ulong x, int cols, int n)
    {
        _gpu.Launch("f16_pairs", (uint)n, 1, 1, 128, 0, x, n, cols, _b.PreparedDense, _b.PreparedDenseScales, 0UL, 0, 0UL, 0UL);
        return _b.PreparedDenseScales;
    }

    /// <summary>Whether two weights can share one launch: same storage type, columns and scale blocks.</summary>
    private static bool SameBlocks(in DeviceMatrix a, in DeviceMatrix b) =>
        a.Kind == b.Kind && a.Cols == b.Cols && a.BlockRows == b.BlockRows && a.BlockCols == b.BlockCols && a.ScaleCols == b.ScaleCols;

    /// <summary>y1 = x · W1ᵀ and y2 = x · W2ᵀ (x [n, K] with K = both weights' columns) in one streaming launch.</summary>
    private void LinearTwo(in DeviceMatrix w1, ulong y1, in DeviceMatrix w2, ulong y2, ulong x, int n)
    {
        bool oneRow = OneRowPerWarp(w1.Rows + w2.Rows, n);
        int rows = oneRow ? 8 : 16;
        uint split = (uint)((w1.Rows + rows - 1) / rows), second = (uint)((w2.Rows + rows - 1) / rows);
        _gpu.Launch(
            oneRow ? KernelNames.Gemm2OneRow(w1.Kind) : KernelNames.Gemm2(w1.Kind, n), split + second, 1, 1, 256, 0,
            w1.Data, w1.Scales, w1.Rows, y1, (long)w1.Rows, w2.Data, w2.Scales, w2.Rows, y2, (long)w2.Rows, (int)split, w1.Cols, w1.BlockRows, w1.BlockCols, w1.ScaleCols, x, (long)w1.Cols, n);
    }

    private void Gemv(in DeviceMatrix w, ulong x, int ldx, ulong y, int ldy, int n, bool accumulate, bool round)
    {
        bool oneRow = OneRowPerWarp(w.Rows, n);
        int rows = oneRow ? 8 : 16, blocks = (w.Rows + rows - 1) / rows;
        // Few weight rows for several tokens (the router's 64 rows, kv_a): slices of the tokens in grid rows of
        // their own until the GPU has two blocks per multiprocessor, each slice re-reading the rows from L2.
        int slices = 1, perSlice = n;
        if (_options.TokenSlices && !oneRow && n > 1 && blocks < 2 * _gpu.Multiprocessors)
        {
            int wanted = Math.Min(n, ((2 * _gpu.Multiprocessors) + blocks - 1) / blocks);
            perSlice = (n + wanted - 1) / wanted;
            slices = (n + perSlice - 1) / perSlice;
        }

        _gpu.Launch(
            oneRow ? KernelNames.GemmOneRow(w.Kind) : KernelNames.Gemm(w.Kind, perSlice), (uint)blocks, (uint)slices, 1, 256, 0,
            w.Data, w.Scales, 0L, w.Rows, w.Cols, w.BlockRows, w.BlockCols, w.ScaleCols, x, (long)ldx, y, (long)ldy, n, accumulate, round);
    }

    /// <summary>
    /// Whether a single-row product of <paramref name="rows"/> weight rows takes one row per warp (8 per block):
    /// when blocks of 16 would not fill every multiprocessor twice. Larger products keep two rows per warp.
    /// </summary>
    private bool OneRowPerWarp(int rows, int n) => _options.OneRowProducts && n == 1 && (rows + 15) / 16 < 2 * _gpu.Multiprocessors;
}
