using System.Text.Json;

namespace Fathom.Model;

/// <summary>Parses config.json into <see cref="ModelConfig"/>, naming the field on every error.</summary>
internal sealed class ModelConfigReader
{
    private readonly string _path;
    private readonly JsonElement _root;

    private ModelConfigReader(string path, JsonElement root)
    {
        _path = path;
        _root = root;
    }

    public static ModelConfig Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelFormatException($"{path}: file not found (a model folder needs config.json)");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: invalid JSON: {e.Message}", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFormatException($"{path}: expected a JSON object at the top level");
            }

            var config = new ModelConfigReader(path, doc.RootElement).Parse();
            Validate(path, config);
            return config;
        }
    }

    private ModelConfig Parse()
    {
        string modelType = RequiredString("model_type");
        if (modelType is not ("deepseek_v3" or "deepseek_v2"))
        {
            throw Error("model_type", $"'{modelType}' is not supported (expected deepseek_v3 or deepseek_v2)");
        }

        bool v3 = modelType == "deepseek_v3";
        int hidden = RequiredInt("hidden_size");
        int nRouted = OptionalInt("n_routed_experts") ?? 0;
        string scoring = OptionalString("scoring_func") ?? (v3 ? "sigmoid" : "softmax");
        string topkMethod = OptionalString("topk_method") ?? (v3 ? "noaux_tc" : "greedy");
        var (ropeTheta, yarn) = ParseRope();

        return new ModelConfig
        {
            ModelType = modelType,
            VocabSize = RequiredInt("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = RequiredInt("intermediate_size"),
            MoeIntermediateSize = nRouted > 0 ? RequiredInt("moe_intermediate_size") : OptionalInt("moe_intermediate_size") ?? 0,
            NumHiddenLayers = RequiredInt("num_hidden_layers"),
            NumAttentionHeads = RequiredInt("num_attention_heads"),
            NRoutedExperts = nRouted,
            NSharedExperts = OptionalInt("n_shared_experts") ?? 0,
            NumExpertsPerTok = nRouted > 0 ? RequiredInt("num_experts_per_tok") : 0,
            NGroup = OptionalInt("n_group") ?? 1,
            TopKGroup = OptionalInt("topk_group") ?? 1,
            ScoringFunc = scoring switch
            {
                "sigmoid" => ScoringFunction.Sigmoid,
                "softmax" => ScoringFunction.Softmax,
                _ => throw Error("scoring_func", $"'{scoring}' is not supported (expected sigmoid or softmax)"),
            },
            TopKMethod = topkMethod switch
            {
                "greedy" => TopKMethod.Greedy,
                "group_limited_greedy" => TopKMethod.GroupLimitedGreedy,
                "noaux_tc" => TopKMethod.NoAuxTc,
                _ => throw Error("topk_method", $"'{topkMethod}' is not supported (expected noaux_tc, greedy or group_limited_greedy)"),
            },
            NormTopKProb = OptionalBool("norm_topk_prob") ?? false,
            RoutedScalingFactor = OptionalDouble("routed_scaling_factor") ?? 1.0,
            FirstKDenseReplace = OptionalInt("first_k_dense_replace") ?? 0,
            MoeLayerFreq = OptionalInt("moe_layer_freq") ?? 1,
            QLoraRank = OptionalInt("q_lora_rank"),
            KvLoraRank = RequiredInt("kv_lora_rank"),
            QkNopeHeadDim = RequiredInt("qk_nope_head_dim"),
            QkRopeHeadDim = RequiredInt("qk_rope_head_dim"),
            VHeadDim = RequiredInt("v_head_dim"),
            RopeTheta = ropeTheta,
            RopeScaling = yarn,
            MaxPositionEmbeddings = RequiredInt("max_position_embeddings"),
            RmsNormEps = OptionalDouble("rms_norm_eps") ?? 1e-6,
            TieWordEmbeddings = OptionalBool("tie_word_embeddings") ?? false,
            NumNextNPredictLayers = OptionalInt("num_nextn_predict_layers") ?? 0,
            Quantization = ParseQuantization(),
            IntegerQuantization = ParseIntegerQuantization(),
            BosTokenId = OptionalInt("bos_token_id"),
            EosTokenIds = ParseEos(),
        };
    }

    private (double Theta, YarnScaling? Yarn) ParseRope()
    {
        // Released configs: rope_theta + rope_scaling {type: yarn, ...}. Newer transformers: rope_parameters
        // {rope_type, rope_theta, ...}.
        JsonElement? scaling = null;
        string field = "rope_scaling";
        if (_root.TryGetProperty("rope_parameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object)
        {
            scaling = parameters;
            field = "rope_parameters";
        }
        else if (_root.TryGetProperty("rope_scaling", out var s) && s.ValueKind == JsonValueKind.Object)
        {
            scaling = s;
        }

        double? theta = OptionalDouble("rope_theta");
        if (scaling is { } sp && sp.TryGetProperty("rope_theta", out var t) && t.ValueKind == JsonValueKind.Number)
        {
            theta = t.GetDouble();
        }

        theta ??= 10000.0;
        if (scaling is not { } sc)
        {
            return (theta.Value, null);
        }

        string? type = GetString(sc, "rope_type") ?? GetString(sc, "type");
        if (type is null or "default")
        {
            return (theta.Value, null);
        }

        if (type != "yarn")
        {
            throw Error($"{field}.type", $"'{type}' is not supported (DeepSeek models use yarn)");
        }

        double factor = GetDouble(sc, "factor") ?? throw Error($"{field}.factor", "missing");
        int original = (int)(GetDouble(sc, "original_max_position_embeddings")
            ?? throw Error($"{field}.original_max_position_embeddings", "missing"));
        var yarn = new YarnScaling(
            Factor: factor,
            OriginalMaxPositionEmbeddings: original,
            BetaFast: GetDouble(sc, "beta_fast") ?? 32,
            BetaSlow: GetDouble(sc, "beta_slow") ?? 1,
            Mscale: GetDouble(sc, "mscale") ?? 0,
            MscaleAllDim: GetDouble(sc, "mscale_all_dim") ?? 0,
            AttentionFactor: GetDouble(sc, "attention_factor"),
            Truncate: !sc.TryGetProperty("truncate", out var tr) || tr.ValueKind != JsonValueKind.False);
        if (!(factor > 0) || original <= 0 || !(yarn.BetaFast > 0) || !(yarn.BetaSlow > 0))
        {
            throw Error(field, "factor, original_max_position_embeddings, beta_fast and beta_slow must be positive");
        }

        return (theta.Value, yarn);
    }

    private Fp8Quantization? ParseQuantization()
    {
        if (!_root.TryGetProperty("quantization_config", out var q) || q.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        string method = GetString(q, "quant_method") ?? throw Error("quantization_config.quant_method", "missing");
        if (method is "w8a8_int8" or "awq")
        {
            return null;
        }

        if (method != "fp8")
        {
            throw Error("quantization_config.quant_method", $"'{method}' is not supported (expected fp8, w8a8_int8 or awq)");
        }

        string? fmt = GetString(q, "fmt");
        if (fmt is not null and not "e4m3")
        {
            throw Error("quantization_config.fmt", $"'{fmt}' is not supported (expected e4m3)");
        }

        int rows = 128, cols = 128;
        if (q.TryGetProperty("weight_block_size", out var b))
        {
            if (b.ValueKind != JsonValueKind.Array || b.GetArrayLength() != 2
                || b[0].ValueKind != JsonValueKind.Number || b[1].ValueKind != JsonValueKind.Number
                || !b[0].TryGetInt32(out rows) || !b[1].TryGetInt32(out cols) || rows <= 0 || cols <= 0)
            {
                throw Error("quantization_config.weight_block_size", "expected two positive integers, e.g. [128, 128]");
            }
        }

        return new Fp8Quantization(rows, cols, GetString(q, "activation_scheme") ?? "dynamic");
    }

    private IntegerQuantization? ParseIntegerQuantization()
    {
        if (!_root.TryGetProperty("quantization_config", out var q) || q.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        string? method = GetString(q, "quant_method");
        if (method == "w8a8_int8")
        {
            return new IntegerQuantization(IntegerQuantMethod.W8A8Int8, 8, -1, []);
        }

        if (method != "awq")
        {
            return null;
        }

        int bits = q.TryGetProperty("bits", out var b) && b.ValueKind == JsonValueKind.Number && b.TryGetInt32(out int n) ? n
            : q.TryGetProperty("w_bit", out var wb) && wb.ValueKind == JsonValueKind.Number && wb.TryGetInt32(out int m) ? m
            : throw Error("quantization_config.bits", "missing (AWQ needs the bit width, 4)");
        if (bits != 4)
        {
            throw Error("quantization_config.bits", $"is {bits}; only 4-bit AWQ is supported");
        }

        int group = q.TryGetProperty("group_size", out var g) && g.ValueKind == JsonValueKind.Number && g.TryGetInt32(out int gs) ? gs
            : q.TryGetProperty("q_group_size", out var qg) && qg.ValueKind == JsonValueKind.Number && qg.TryGetInt32(out int qgs) ? qgs
            : throw Error("quantization_config.group_size", "missing (AWQ needs the group size, e.g. 128)");
        if (group <= 0 || group % 8 != 0)
        {
            throw Error("quantization_config.group_size", $"is {group}; expected a positive multiple of 8 such as 128");
        }

        if (q.TryGetProperty("zero_point", out var z) && z.ValueKind == JsonValueKind.False)
        {
            throw Error("quantization_config.zero_point", "is false; only AWQ with zero points (the default) is supported");
        }

        string? version = GetString(q, "version");
        if (version is not null && !version.Equals("gemm", StringComparison.OrdinalIgnoreCase))
        {
            throw Error("quantization_config.version", $"'{version}' is not supported (expected gemm, AWQ's standard packing)");
        }

        var skip = new List<string>();
        if (q.TryGetProperty("modules_to_not_convert", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in list.EnumerateArray())
            {
                skip.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw Error("quantization_config.modules_to_not_convert", "expected strings"));
            }
        }

        return new IntegerQuantization(IntegerQuantMethod.Awq, bits, group, skip);
    }

    private List<int> ParseEos()
    {
        if (!_root.TryGetProperty("eos_token_id", out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int single))
        {
            return [single];
        }

        if (e.ValueKind == JsonValueKind.Array)
        {
            var ids = new List<int>();
            foreach (var item in e.EnumerateArray())
            {
                ids.Add(item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out int id) ? id : throw Error("eos_token_id", "expected integers"));
            }

            return ids;
        }

        throw Error("eos_token_id", "expected an integer or a list of integers");
    }

    private static void Validate(string path, ModelConfig c)
    {
        void Check(bool ok, string field, string message)
        {
            if (!ok)
            {
                throw new ModelFormatException($"{path}: field '{field}' {message}");
            }
        }

        Check(c.VocabSize > 0, "vocab_size", $"must be positive (got {c.VocabSize})");
        Check(c.HiddenSize > 0, "hidden_size", $"must be positive (got {c.HiddenSize})");
        Check(c.NumHiddenLayers > 0, "num_hidden_layers", $"must be positive (got {c.NumHiddenLayers})");
        Check(c.NumAttentionHeads > 0, "num_attention_heads", $"must be positive (got {c.NumAttentionHeads})");
        Check(c.KvLoraRank > 0, "kv_lora_rank", $"must be positive (got {c.KvLoraRank})");
        Check(c.QLoraRank is null or > 0, "q_lora_rank", $"must be null or positive (got {c.QLoraRank})");
        Check(c.QkNopeHeadDim > 0, "qk_nope_head_dim", $"must be positive (got {c.QkNopeHeadDim})");
        Check(c.QkRopeHeadDim > 0 && c.QkRopeHeadDim % 2 == 0, "qk_rope_head_dim", $"must be positive and even (got {c.QkRopeHeadDim})");
        Check(c.VHeadDim > 0, "v_head_dim", $"must be positive (got {c.VHeadDim})");
        Check(c.FirstKDenseReplace >= 0, "first_k_dense_replace", $"must not be negative (got {c.FirstKDenseReplace})");
        Check(c.MoeLayerFreq > 0, "moe_layer_freq", $"must be positive (got {c.MoeLayerFreq})");
        Check(c.RmsNormEps > 0, "rms_norm_eps", $"must be positive (got {c.RmsNormEps})");
        Check(c.RopeTheta > 0, "rope_theta", $"must be positive (got {c.RopeTheta})");
        Check(c.MaxPositionEmbeddings > 0, "max_position_embeddings", $"must be positive (got {c.MaxPositionEmbeddings})");
        Check(c.NumNextNPredictLayers >= 0, "num_nextn_predict_layers", "must not be negative");
        Check(c.NRoutedExperts >= 0, "n_routed_experts", "must not be negative");
        Check(c.NSharedExperts >= 0, "n_shared_experts", "must not be negative");
        bool hasDense = Enumerable.Range(0, c.NumHiddenLayers).Any(l => !c.IsMoeLayer(l));
        Check(!hasDense || c.IntermediateSize > 0, "intermediate_size", $"must be positive (got {c.IntermediateSize})");
        if (c.NRoutedExperts > 0)
        {
            Check(c.MoeIntermediateSize > 0, "moe_intermediate_size", $"must be positive (got {c.MoeIntermediateSize})");
            Check(c.NumExpertsPerTok > 0 && c.NumExpertsPerTok <= c.NRoutedExperts, "num_experts_per_tok",
                $"must be in [1, n_routed_experts = {c.NRoutedExperts}] (got {c.NumExpertsPerTok})");
            Check(c.NGroup > 0 && c.NRoutedExperts % c.NGroup == 0, "n_group",
                $"must divide n_routed_experts = {c.NRoutedExperts} (got {c.NGroup})");
            Check(c.TopKGroup > 0 && c.TopKGroup <= c.NGroup, "topk_group", $"must be in [1, n_group = {c.NGroup}] (got {c.TopKGroup})");
            Check(c.NumExpertsPerTok <= c.TopKGroup * (c.NRoutedExperts / c.NGroup), "num_experts_per_tok",
                $"({c.NumExpertsPerTok}) exceeds the experts in topk_group = {c.TopKGroup} groups");
            Check(c.TopKMethod != TopKMethod.NoAuxTc || c.NRoutedExperts / c.NGroup >= 2 || c.NGroup == 1, "n_group",
                "noaux_tc scores a group by its top-2 experts, so groups need at least 2 experts");
            Check(double.IsFinite(c.RoutedScalingFactor) && c.RoutedScalingFactor > 0, "routed_scaling_factor",
                $"must be positive (got {c.RoutedScalingFactor})");
        }

        foreach (int eos in c.EosTokenIds)
        {
            Check(eos >= 0 && eos < c.VocabSize, "eos_token_id", $"{eos} is outside the vocabulary [0, {c.VocabSize})");
        }

        Check(c.BosTokenId is null || (c.BosTokenId >= 0 && c.BosTokenId < c.VocabSize), "bos_token_id",
            $"{c.BosTokenId} is outside the vocabulary [0, {c.VocabSize})");
    }

    private ModelFormatException Error(string field, string message) => new($"{_path}: field '{field}' {message}");

    private string RequiredString(string name) =>
        OptionalString(name) ?? throw Error(name, "is missing");

    private int RequiredInt(string name) =>
        OptionalInt(name) ?? throw Error(name, "is missing");

    private string? OptionalString(string name) =>
        !_root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : throw Error(name, $"must be a string (got {v.ValueKind})");

    private int? OptionalInt(string name)
    {
        if (!_root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue)
        {
            return (int)d;
        }

        throw Error(name, $"must be an integer (got {v.GetRawText()})");
    }

    private double? OptionalDouble(string name) =>
        !_root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number ? v.GetDouble()
        : throw Error(name, $"must be a number (got {v.GetRawText()})");

    private bool? OptionalBool(string name) =>
        !_root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw Error(name, $"must be true or false (got {v.GetRawText()})");

    private static string? GetString(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static double? GetDouble(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
}
