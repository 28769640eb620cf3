namespace Fathom.Backends.Cuda;

/// <summary>
/// Kernel entry points per weight storage type, in the general form (up to 8 activation rows per pass)
/// and the single-row form decode steps of one token use (so launching builds no strings).
/// </summary>
internal static class KernelNames
{
    private static readonly string[] GemmNames = ["gemm_f32", "gemm_bf16", "gemm_fp8", "gemm_f32_1", "gemm_bf16_1", "gemm_fp8_1"];
    private static readonly string[] Gemm2Names = ["gemm2_f32", "gemm2_bf16", "gemm2_fp8", "gemm2_f32_1", "gemm2_bf16_1", "gemm2_fp8_1"];
    private static readonly string[] AbsorbNames = ["mla_absorb_f32", "mla_absorb_bf16", "mla_absorb_fp8", "mla_absorb_f32_1", "mla_absorb_bf16_1", "mla_absorb_fp8_1"];
    private static readonly string[] HeadGemmNames = ["head_gemm_f32", "head_gemm_bf16", "head_gemm_fp8", "head_gemm_f32_1", "head_gemm_bf16_1", "head_gemm_fp8_1"];
    private static readonly string[] GateUpNames = ["gateup_f32", "gateup_bf16", "gateup_fp8", "gateup_f32_1", "gateup_bf16_1", "gateup_fp8_1"];
    private static readonly string[] MoeGateUpNames = ["moe_gateup_f32", "moe_gateup_bf16", "moe_gateup_fp8", "moe_gateup_f32_1", "moe_gateup_bf16_1", "moe_gateup_fp8_1"];
    private static readonly string[] MoeDownNames = ["moe_down_f32", "moe_down_bf16", "moe_down_fp8", "moe_down_f32_1", "moe_down_bf16_1", "moe_down_fp8_1"];

    private static readonly string[] OneRowGemmNames = ["gemm_r1_f32_1", "gemm_r1_bf16_1", "gemm_r1_fp8_1"];
    private static readonly string[] OneRowGemm2Names = ["gemm2_r1_f32_1", "gemm2_r1_bf16_1", "gemm2_r1_fp8_1"];
    private static readonly string[] OneRowMoeDownNames = ["moe_down_r1_f32_1", "moe_down_r1_bf16_1", "moe_down_r1_fp8_1"];

    private static readonly string[] GateRouteNames = ["moe_gate_route_f32", "moe_gate_route_bf16", "moe_gate_route_fp8"];

    private static readonly string[] MmaGemmNames = ["mma_gemm_bf16_1", "mma_gemm_bf16_2", "mma_gemm_bf16_4", "mma_gemm_fp8_1", "mma_gemm_fp8_2", "mma_gemm_fp8_4"];
    private static readonly string[] MmaHeadGemmNames = ["mma_head_gemm_fp8_1", "mma_head_gemm_fp8_2", "mma_head_gemm_fp8_4"];
    private static readonly string[] MmaGemmPreparedNames = ["mma_gemm_fp8h_1", "mma_gemm_fp8h_2", "mma_gemm_fp8h_4"];
    private static readonly string[] MmaGemmSplitPreparedNames = ["mma_gemm_split_fp8h_1", "mma_gemm_split_fp8h_2", "mma_gemm_split_fp8h_4"];
    private static readonly string[] MmaHeadGemmPreparedNames = ["mma_head_gemm_fp8h_1", "mma_head_gemm_fp8h_2", "mma_head_gemm_fp8h_4"];
    private static readonly string[] MmaGemmSplitNames = ["mma_gemm_split_bf16_1", "mma_gemm_split_bf16_2", "mma_gemm_split_bf16_4", "mma_gemm_split_fp8_1", "mma_gemm_split_fp8_2", "mma_gemm_split_fp8_4"];

    public static string Gemm(WeightKind kind, int rows = 8) => GemmNames[Index(kind, rows)];

    /// <summary>The tensor-core streaming product (BF16 or FP8 weights) taking a pass's rows 8, 16 or 32 at a time.</summary>
    public static string MmaGemm(WeightKind kind, int rows) =>
        MmaGemmNames[(kind == WeightKind.Fp8 ? 3 : 0) + NTiles(rows)];

    /// <summary><see cref="MmaGemm"/> per attention head (blockIdx.y = head; mma_head_gemm in mma.cu), FP8 weights only.</summary>
    public static string MmaHeadGemm(WeightKind kind, int rows) => kind == WeightKind.Fp8
        ? MmaHeadGemmNames[NTiles(rows)]
        : throw new ArgumentException($"the per-head tensor-core products take FP8 weights, not {kind}", nameof(kind));

    /// <summary><see cref="MmaGemm"/> over a slice of the columns per grid row (split-K, summed by splitk_reduce).</summary>
    public static string MmaGemmSplit(WeightKind kind, int rows) =>
        MmaGemmSplitNames[(kind == WeightKind.Fp8 ? 3 : 0) + NTiles(rows)];

    public static string MmaMoeGateUp(WeightKind kind) => kind == WeightKind.Fp8 ? "mma_moe_gateup_fp8" : "mma_moe_gateup_bf16";

    public static string MmaMoeDown(WeightKind kind) => kind == WeightKind.Fp8 ? "mma_moe_down_fp8" : "mma_moe_down_bf16";

    /// <summary><see cref="MmaGemm"/> for FP8 weights on inputs prepared by f16_pairs (f16 tensor-core products).</summary>
    public static string MmaGemmPrepared(int rows) => MmaGemmPreparedNames[NTiles(rows)];

    /// <summary><see cref="MmaGemmSplit"/> for FP8 weights on prepared inputs.</summary>
    public static string MmaGemmSplitPrepared(int rows) => MmaGemmSplitPreparedNames[NTiles(rows)];

    /// <summary><see cref="MmaHeadGemm"/> on prepared inputs.</summary>
    public static string MmaHeadGemmPrepared(int rows) => MmaHeadGemmPreparedNames[NTiles(rows)];

    /// <summary>The FP8 expert products on inputs prepared by f16_pairs (f16 tensor-core products).</summary>
    public const string MmaMoeGateUpPrepared = "mma_moe_gateup_fp8h";

    /// <summary>The down products of <see cref="MmaMoeGateUpPrepared"/>'s activations, prepared by f16_pairs.</summary>
    public const string MmaMoeDownPrepared = "mma_moe_down_fp8h";

    public static string Gemm2(WeightKind kind, int rows = 8) => Gemm2Names[Index(kind, rows)];

    public static string Absorb(WeightKind kind, int rows = 8) => AbsorbNames[Index(kind, rows)];

    public static string HeadGemm(WeightKind kind, int rows = 8) => HeadGemmNames[Index(kind, rows)];

    public static string GateUp(WeightKind kind, int rows = 8) => GateUpNames[Index(kind, rows)];

    public static string MoeGateUp(WeightKind kind, int rows = 8) => MoeGateUpNames[Index(kind, rows)];

    public static string MoeDown(WeightKind kind, int rows = 8) => MoeDownNames[Index(kind, rows)];

    /// <summary>The single-row <see cref="Gemm"/> with one weight row per warp (twice the blocks).</summary>
    public static string GemmOneRow(WeightKind kind) => OneRowGemmNames[(int)kind];

    /// <summary>The single-row <see cref="Gemm2"/> with one weight row per warp.</summary>
    public static string Gemm2OneRow(WeightKind kind) => OneRowGemm2Names[(int)kind];

    /// <summary>The single-row <see cref="MoeDown"/> whose shared-expert blocks take one row per warp.</summary>
    public static string MoeDownOneRow(WeightKind kind) => OneRowMoeDownNames[(int)kind];

    /// <summary>The router product, routing and pair sort of a small pass in one launch.</summary>
    public static string GateRoute(WeightKind kind) => GateRouteNames[(int)kind];

    private static int Index(WeightKind kind, int rows) => (int)kind + (rows == 1 ? 3 : 0);

    /// <summary>The kernel of 1, 2 or 4 n-tiles of 8 tokens per pass of the tensor-core kernels, as an index.</summary>
    private static int NTiles(int rows) => rows <= 8 ? 0 : rows <= 16 ? 1 : 2;
}
