namespace Fathom.Model;

/// <summary>
/// The one table of Hugging Face checkpoint tensor names. Layer index N = num_hidden_layers (and above)
/// holds the MTP modules.
/// </summary>
public static class TensorNames
{
    public const string Embed = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";
    public const string ScaleSuffix = "_scale_inv";

    public static string LayerPrefix(int layer) => $"model.layers.{layer}.";

    public static string InputNorm(int l) => $"model.layers.{l}.input_layernorm.weight";

    public static string PostAttentionNorm(int l) => $"model.layers.{l}.post_attention_layernorm.weight";

    public static string QA(int l) => $"model.layers.{l}.self_attn.q_a_proj.weight";

    public static string QANorm(int l) => $"model.layers.{l}.self_attn.q_a_layernorm.weight";

    public static string QB(int l) => $"model.layers.{l}.self_attn.q_b_proj.weight";

    public static string Q(int l) => $"model.layers.{l}.self_attn.q_proj.weight";

    public static string KvA(int l) => $"model.layers.{l}.self_attn.kv_a_proj_with_mqa.weight";

    public static string KvANorm(int l) => $"model.layers.{l}.self_attn.kv_a_layernorm.weight";

    public static string KvB(int l) => $"model.layers.{l}.self_attn.kv_b_proj.weight";

    public static string O(int l) => $"model.layers.{l}.self_attn.o_proj.weight";

    /// <summary>Dense MLP projection: part is gate_proj, up_proj or down_proj.</summary>
    public static string Mlp(int l, string part) => $"model.layers.{l}.mlp.{part}.weight";

    public static string Router(int l) => $"model.layers.{l}.mlp.gate.weight";

    public static string RouterBias(int l) => $"model.layers.{l}.mlp.gate.e_score_correction_bias";

    public static string Expert(int l, int e, string part) => $"model.layers.{l}.mlp.experts.{e}.{part}.weight";

    public static string SharedExpert(int l, string part) => $"model.layers.{l}.mlp.shared_experts.{part}.weight";

    public static string MtpENorm(int l) => $"model.layers.{l}.enorm.weight";

    public static string MtpHNorm(int l) => $"model.layers.{l}.hnorm.weight";

    public static string MtpEhProj(int l) => $"model.layers.{l}.eh_proj.weight";

    public static string MtpEmbed(int l) => $"model.layers.{l}.embed_tokens.weight";

    public static string MtpHeadNorm(int l) => $"model.layers.{l}.shared_head.norm.weight";

    public static string MtpHead(int l) => $"model.layers.{l}.shared_head.head.weight";

    public const string Gate = "gate_proj";
    public const string Up = "up_proj";
    public const string Down = "down_proj";

    /// <summary>The layer index of a "model.layers.{i}.…" name, or -1.</summary>
    public static int LayerOf(string name)
    {
        const string prefix = "model.layers.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal))
        {
            return -1;
        }

        int dot = name.IndexOf('.', prefix.Length);
        return dot > prefix.Length && int.TryParse(name.AsSpan(prefix.Length, dot - prefix.Length), out int layer) ? layer : -1;
    }
}
