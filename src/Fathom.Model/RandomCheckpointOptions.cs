using System.Text.Json.Nodes;
using Fathom.Core;

namespace Fathom.Model;

/// <summary>What a random-weight checkpoint looks like: architecture, size, storage format, seed and sharding.</summary>
public sealed record RandomCheckpointOptions
{
    /// <summary>Hugging Face's habit of a few GB per shard keeps single files manageable to copy.</summary>
    public const long DefaultShardBytes = 4_000_000_000;

    /// <summary>The initializer_range of the released configs: keeps activations of order one through the layers.</summary>
    public const double DefaultStd = 0.02;

    public required RandomCheckpointShape Shape { get; init; }

    /// <summary>num_hidden_layers; null: the released model's count.</summary>
    public int? Layers { get; init; }

    /// <summary>first_k_dense_replace; null: the preset's value.</summary>
    public int? DenseLayers { get; init; }

    /// <summary>vocab_size; null: the preset's default (129280 for v2-lite, the standard bench model).</summary>
    public int? Vocab { get; init; }

    /// <summary>BF16, or F8E4M3 with F32 128x128 block scales and a quantization_config (as DeepSeek-V3 ships).</summary>
    public DType WeightType { get; init; } = DType.BF16;

    public ulong Seed { get; init; }

    /// <summary>Shards are cut before a tensor that would make a file larger than this; one shard means one model.safetensors.</summary>
    public long ShardBytes { get; init; } = DefaultShardBytes;

    /// <summary>Standard deviation of every linear weight and of the embeddings.</summary>
    public double Std { get; init; } = DefaultStd;

    public int ResolvedLayers => Layers ?? Shape.Layers;

    public int ResolvedVocab => Vocab ?? Shape.Vocab;

    public int ResolvedDenseLayers => DenseLayers ?? Shape.DenseLayers;

    /// <summary>Throws ArgumentException naming the first option out of range.</summary>
    public void Validate()
    {
        if (ResolvedLayers < 1)
        {
            throw new ArgumentException($"layers must be at least 1 (got {ResolvedLayers})");
        }

        if (ResolvedDenseLayers < 0)
        {
            throw new ArgumentException($"dense layers must not be negative (got {ResolvedDenseLayers})");
        }

        if (ResolvedVocab < 2)
        {
            throw new ArgumentException($"vocab must be at least 2 (got {ResolvedVocab})");
        }

        if (WeightType is not (DType.BF16 or DType.F8E4M3))
        {
            throw new ArgumentException($"weights can be BF16 or F8_E4M3 (got {WeightType.ToSafeTensors()})");
        }

        if (ShardBytes <= 0)
        {
            throw new ArgumentException($"shard size must be positive (got {ShardBytes})");
        }

        if (!(Std > 0) || !double.IsFinite(Std))
        {
            throw new ArgumentException($"std must be positive (got {Std})");
        }
    }

    /// <summary>config.json in the released layout (keys sorted, as transformers writes them).</summary>
    public JsonObject ToConfigJson()
    {
        var s = Shape;
        int vocab = ResolvedVocab;
        // The preset's special ids only exist in a vocabulary that large; small test vocabularies use 0 and 1.
        bool idsFit = s.BosTokenId < vocab && s.EosTokenId < vocab;
        var fields = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["architectures"] = new JsonArray(s.Architecture),
            ["attention_bias"] = false,
            ["attention_dropout"] = 0.0,
            ["bos_token_id"] = idsFit ? s.BosTokenId : 0,
            ["eos_token_id"] = idsFit ? s.EosTokenId : 1,
            ["first_k_dense_replace"] = ResolvedDenseLayers,
            ["hidden_act"] = "silu",
            ["hidden_size"] = s.HiddenSize,
            ["initializer_range"] = Std,
            ["intermediate_size"] = s.IntermediateSize,
            ["kv_lora_rank"] = s.KvLoraRank,
            ["max_position_embeddings"] = s.MaxPositionEmbeddings,
            ["model_type"] = s.ModelType,
            ["moe_intermediate_size"] = s.MoeIntermediateSize,
            ["moe_layer_freq"] = 1,
            ["n_group"] = s.Groups,
            ["n_routed_experts"] = s.RoutedExperts,
            ["n_shared_experts"] = s.SharedExperts,
            ["norm_topk_prob"] = s.NormTopKProb,
            ["num_attention_heads"] = s.Heads,
            ["num_experts_per_tok"] = s.ExpertsPerToken,
            ["num_hidden_layers"] = ResolvedLayers,
            ["num_key_value_heads"] = s.Heads,
            // The released V3 has one MTP layer; a random checkpoint has none, and says so.
            ["num_nextn_predict_layers"] = 0,
            ["q_lora_rank"] = s.QLoraRank is int q ? q : null,
            ["qk_nope_head_dim"] = s.QkNopeHeadDim,
            ["qk_rope_head_dim"] = s.QkRopeHeadDim,
            ["rms_norm_eps"] = s.RmsNormEps,
            ["rope_scaling"] = s.Yarn is { } y
                ? new JsonObject
                {
                    ["beta_fast"] = y.BetaFast,
                    ["beta_slow"] = y.BetaSlow,
                    ["factor"] = y.Factor,
                    ["mscale"] = y.Mscale,
                    ["mscale_all_dim"] = y.MscaleAllDim,
                    ["original_max_position_embeddings"] = y.OriginalMaxPositionEmbeddings,
                    ["type"] = "yarn",
                }
                : null,
            ["rope_theta"] = s.RopeTheta,
            ["routed_scaling_factor"] = s.RoutedScalingFactor,
            ["scoring_func"] = s.ScoringFunc,
            ["tie_word_embeddings"] = false,
            ["topk_group"] = s.TopKGroups,
            ["topk_method"] = s.TopKMethod,
            ["torch_dtype"] = "bfloat16",
            ["use_cache"] = true,
            ["v_head_dim"] = s.VHeadDim,
            ["vocab_size"] = vocab,
        };
        if (WeightType == DType.F8E4M3)
        {
            fields["quantization_config"] = new JsonObject
            {
                ["activation_scheme"] = "dynamic",
                ["fmt"] = "e4m3",
                ["quant_method"] = "fp8",
                ["weight_block_size"] = new JsonArray(RandomCheckpointPlan.Fp8Block, RandomCheckpointPlan.Fp8Block),
            };
        }

        var config = new JsonObject();
        foreach (var (key, value) in fields)
        {
            config[key] = value;
        }

        return config;
    }
}
