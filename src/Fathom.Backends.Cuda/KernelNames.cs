namespace Fathom.Backends.Cuda;

/// <summary>Kernel entry points per weight storage type (so launching builds no strings).</summary>
internal static class KernelNames
{
    private static readonly string[] GemmNames = ["gemm_f32", "gemm_bf16", "gemm_fp8"];
    private static readonly string[] HeadGemmNames = ["head_gemm_f32", "head_gemm_bf16", "head_gemm_fp8"];
    private static readonly string[] GateUpNames = ["gateup_f32", "gateup_bf16", "gateup_fp8"];
    private static readonly string[] MoeGateUpNames = ["moe_gateup_f32", "moe_gateup_bf16", "moe_gateup_fp8"];
    private static readonly string[] MoeDownNames = ["moe_down_f32", "moe_down_bf16", "moe_down_fp8"];

    public static string Gemm(WeightKind kind) => GemmNames[(int)kind];

    public static string HeadGemm(WeightKind kind) => HeadGemmNames[(int)kind];

    public static string GateUp(WeightKind kind) => GateUpNames[(int)kind];

    public static string MoeGateUp(WeightKind kind) => MoeGateUpNames[(int)kind];

    public static string MoeDown(WeightKind kind) => MoeDownNames[(int)kind];
}
