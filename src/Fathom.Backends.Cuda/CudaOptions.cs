namespace Fathom.Backends.Cuda;

/// <summary>How a model is placed on a GPU; chosen by the composition root.</summary>
public sealed record CudaOptions
{
    /// <summary>The device ordinal (cuda:N).</summary>
    public int Device { get; init; }

    /// <summary>
    /// Products of <see cref="CublasMinTokens"/> rows or more run through cuBLASLt on the tensor cores with
    /// activations carried as bfloat16 pairs (hi + lo, 16 significant bits; FP8 weights widened to a pair
    /// as well, BF16 weights are exact). False: float32 activations in
    /// every product (the precise path). Smaller passes (decode) stream the weights with float32
    /// activations either way.
    /// </summary>
    public bool Bf16Activations { get; init; } = true;

    /// <summary>Most tokens one forward pass takes; longer inputs run in chunks.</summary>
    public int MaxChunkTokens { get; init; } = 2048;

    /// <summary>Tokens of latent cache on the device, over all sequences; a page holds <see cref="PageTokens"/>.</summary>
    public int KvCacheTokens { get; init; } = 65536;

    /// <summary>When set, the latent cache takes this many bytes instead of <see cref="KvCacheTokens"/> tokens (whole tokens, all layers).</summary>
    public long? KvCacheBytes { get; init; }

    public int PageTokens { get; init; } = 64;

    /// <summary>Sequences that may hold a cache at once.</summary>
    public int MaxSequences { get; init; } = 256;

    /// <summary>At this many tokens in a pass and above, dense products go through cuBLASLt (bf16 path only).</summary>
    public int CublasMinTokens { get; init; } = 32;

    /// <summary>
    /// Passes of <see cref="CublasMinTokens"/> up to this many tokens (batched decode, small serving steps)
    /// stream FP8 weights once through tensor-core kernels (Kernels/mma.cu, bf16 activation pairs) for the
    /// dense products and the experts, instead of widening them for cuBLASLt or the float32 streaming
    /// kernels; 0 turns them off. On an H100 (4-layer V2-Lite-shaped FP8 checkpoint) batch-32 decode
    /// rose from 4239 to 5238 tok/s with them and batch 128 fell from 5549 to 5067, hence 64; BF16
    /// weights measured faster on cuBLASLt (dense) and the float32 kernels (experts) and keep those.
    /// FATHOM_CUDA_MMA_MAX_TOKENS=N sets it for comparisons.
    /// </summary>
    public int TensorCoreStreamingMaxTokens { get; init; } =
        int.TryParse(Environment.GetEnvironmentVariable("FATHOM_CUDA_MMA_MAX_TOKENS"), out int most) && most >= 0 ? most : 64;

    /// <summary>
    /// In the tensor-core passes, the per-head products of FP8 attention weights (the query absorption and
    /// W_UV) run on the tensor-core streaming kernels (mma_head_gemm in Kernels/mma.cu, bf16 activation
    /// pairs) instead of the float32 streaming kernels, which re-read the weights for every 8 tokens.
    /// FATHOM_CUDA_MMA_HEADS=0 turns it off for comparisons.
    /// </summary>
    /// <remarks>
    /// H100, full-size V2-Lite-shaped FP8 checkpoint, alternating in one call (build 63cf0df): batch 32
    /// 1693 / 1667 / 1692 → 1825 / 1849 / 1842 tok/s, batch 64 1848 / 1834 / 1871 → 2064 / 2081 / 2075.
    /// </remarks>
    public bool MmaHeads { get; init; } = Environment.GetEnvironmentVariable("FATHOM_CUDA_MMA_HEADS") != "0";

    /// <summary>
    /// In the tensor-core passes, the FP8 expert products take their inputs prepared once per launch as f16
    /// pairs with a power-of-two scale per row (f16_pairs in Kernels/mma.cu): the weights then widen to f16 in
    /// one conversion per two and no warp splits activations itself. On an H100, full-size V2-Lite-shaped FP8
    /// checkpoint, batch 32 with <see cref="MmaPreparedDense"/>: 2035-2049 tok/s against 1928-1956 on the bf16
    /// pairs, alternating in one call; batch 1 does not take these passes. FATHOM_CUDA_MMA_F16=0 turns it off.
    /// </summary>
    public bool MmaPreparedInputs { get; init; } = Environment.GetEnvironmentVariable("FATHOM_CUDA_MMA_F16") != "0";

    /// <summary>
    /// <see cref="MmaPreparedInputs"/> for the FP8 dense and per-head products of the tensor-core passes: each
    /// product's input rows are prepared by one f16_pairs launch first. FATHOM_CUDA_MMA_F16_DENSE=0 turns it off.
    /// </summary>
    public bool MmaPreparedDense { get; init; } = Environment.GetEnvironmentVariable("FATHOM_CUDA_MMA_F16_DENSE") != "0";

    /// <summary>
    /// A BF16 LM head in passes of <see cref="CublasMinTokens"/> to <see cref="TensorCoreStreamingMaxTokens"/>
    /// logit rows runs on the tensor-core streaming kernel, which reads it once, instead of cuBLASLt's pair
    /// product, which reads it once per half of the pair. Off: on an H100 (full-size FP8 checkpoint, batch 32)
    /// it measured within the noise of the pair product (1965 against 1928-1956 tok/s; with the prepared inputs
    /// 2041-2049 against 2035). FATHOM_CUDA_MMA_HEAD=1 turns it on.
    /// </summary>
    public bool MmaBf16Head { get; init; } = Environment.GetEnvironmentVariable("FATHOM_CUDA_MMA_HEAD") == "1";

    /// <summary>Capture decode steps as CUDA graphs and replay them (fewer launch gaps).</summary>
    public bool CudaGraphs { get; init; } = true;

    /// <summary>
    /// On Hopper and newer GPUs, launch each kernel with programmatic stream serialization: it starts while
    /// the previous one finishes, streams its first weights, and waits for its inputs on the device
    /// (shorter gaps between the hundreds of small kernels of a decode step).
    /// </summary>
    /// <remarks>
    /// On by default: on an H100 with the full-size V2-Lite-shaped BF16 checkpoint, batch-1 decode measured
    /// 326.4 tok/s with it against 319.1 without (build 6ead470, alternating runs on one machine; the one-row
    /// products and the norm in the router's launch then took it to 328.8). On the 4-layer copy it had
    /// measured no gain before. FATHOM_CUDA_PDL=0 turns it off for comparisons.
    /// </remarks>
    public bool ProgrammaticLaunch { get; init; } = Environment.GetEnvironmentVariable("FATHOM_CUDA_PDL") != "0";

    /// <summary>
    /// Single-token products whose grid of 16-row blocks would not fill the GPU twice over (the 2048-row
    /// attention output and dense down projections, the query projections) and the shared experts' down rows
    /// take one weight row per warp instead of two: twice the blocks, half the serial loads per warp. Same
    /// sums bit for bit. FATHOM_CUDA_ONE_ROW=0 turns it off for comparisons.
    /// </summary>
    public bool OneRowProducts { get; init; } = Environment.GetEnvironmentVariable("FATHOM_CUDA_ONE_ROW") != "0";

    /// <summary>
    /// Small passes norm the MoE layers' FFN input inside the router launch (moe_gate_route) instead of a
    /// launch of its own; same bits. FATHOM_CUDA_ROUTER_NORM=0 turns it off for comparisons.
    /// </summary>
    public bool NormInRouter { get; init; } = Environment.GetEnvironmentVariable("FATHOM_CUDA_ROUTER_NORM") != "0";

    /// <summary>
    /// How the streaming kernels mark their weight loads in L2 (common.cuh's load_weights): 2 (the default)
    /// the streaming cache operator, 1 an evict-first cache policy, 0 default priorities. A decode step
    /// reads each weight byte once and streams over a hundred times what L2 holds, so evict-first weights
    /// leave L2 to what the step reuses: activations, the latent cache and the kernels' own code.
    /// FATHOM_CUDA_STREAM_HINT=N chooses it for comparisons.
    /// </summary>
    /// <remarks>
    /// H100, full-size V2-Lite-shaped checkpoints, alternating runs in one call (build 9816104): batch-1
    /// decode BF16 340.9 → 370.7 tok/s and FP8 354.9 → 381.9; batch 32 BF16 1179 → 1243, FP8 1483 → 1545;
    /// batch 128 BF16 1531 → 1660, FP8 flat; prefill 2048 2005 → 2000 (flat). 1 and 2 measured alike
    /// (BF16 batch 1: 367.4 / 368.2 against 368.9 / 368.9).
    /// </remarks>
    public int StreamHint { get; init; } = int.TryParse(Environment.GetEnvironmentVariable("FATHOM_CUDA_STREAM_HINT"), out int hint) && hint is >= 0 and <= 2 ? hint : 2;

    /// <summary>
    /// Streaming products of few weight rows for several tokens (the router's product, kv_a in batched decode)
    /// spread the tokens over grid rows until the GPU has two blocks per multiprocessor; same sums.
    /// FATHOM_CUDA_TOKEN_SLICES=0 turns it off for comparisons.
    /// </summary>
    /// <remarks>
    /// The batch-32 FP8 profile had the router's product at 63 us per MoE layer on a grid of four blocks. H100,
    /// full-size V2-Lite-shaped checkpoints, off / on alternating in one call (build 7441fec): batch 32 FP8
    /// 1521 / 1527 → 1621 / 1644 tok/s, BF16 1196 / 1222 → 1297 / 1281; batch 8 +0.5%, batch 1 unchanged.
    /// </remarks>
    public bool TokenSlices { get; init; } = Environment.GetEnvironmentVariable("FATHOM_CUDA_TOKEN_SLICES") != "0";

    /// <summary>
    /// Extra preprocessor definitions for the kernels (NAME=VALUE, without -D), for comparing a kernel's
    /// compile-time parameters (such as mma.cu's MMA_U) without a rebuild: FATHOM_CUDA_DEFINES="A=1 B=2"
    /// (or "A=1;B=2").
    /// Part of the compiled-kernel cache key.
    /// </summary>
    public IReadOnlyList<string> KernelDefines { get; init; } =
        (Environment.GetEnvironmentVariable("FATHOM_CUDA_DEFINES") ?? "").Split([' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Folders to look for NVRTC and cuBLASLt in, before the usual toolkit folders.</summary>
    public IReadOnlyList<string> LibraryFolders { get; init; } = [];

    /// <summary>Where compiled kernels are kept between runs (null: compile every time).</summary>
    public string? KernelCacheFolder { get; init; }
}
