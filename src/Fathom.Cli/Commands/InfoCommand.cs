using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Fathom.Core;
using Fathom.Model;

namespace Fathom.Cli.Commands;

/// <summary>`fathom info`: architecture, parameter counts, storage and memory estimates of a model folder.</summary>
public static class InfoCommand
{
    public static Command Create(CliConsole console)
    {
        var modelOption = new Option<string?>("--model", "-m") { Description = $"Model folder (default: the bundled {ModelLocator.BundledModel})." };
        var context = new Option<int>("--context") { Description = "Context length for the memory estimate (default: the model's max_position_embeddings, at most 4096).", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print the facts as one JSON object." };
        var command = new Command("info", "Describe a model: architecture, parameters, storage, KV cache, memory.") { modelOption, context, json };
        command.SetAction(result =>
        {
            string directory = ModelLocator.ResolveModel(result.GetValue(modelOption));
            using var model = LoadedModel.Load(directory);
            var c = model.Config;
            var s = ModelSummary.Compute(model);
            int tokens = result.GetValue(context) is > 0 and var n ? n : Math.Min(c.MaxPositionEmbeddings, 4096);
            var facts = new List<(string Key, string Value)>
            {
                ("model", directory),
                ("model_type", c.ModelType),
                ("layers", $"{c.NumHiddenLayers} ({s.DenseLayers} dense, {s.MoeLayers} MoE)"),
                ("hidden_size", Num(c.HiddenSize)),
                ("attention", $"MLA, {c.NumAttentionHeads} heads, q_lora_rank {(c.QLoraRank?.ToString(CultureInfo.InvariantCulture) ?? "none")}, kv_lora_rank {c.KvLoraRank}, qk_nope {c.QkNopeHeadDim}, qk_rope {c.QkRopeHeadDim}, v {c.VHeadDim}"),
                ("rope", c.RopeScaling is { } y ? $"YaRN factor {y.Factor:G}, original context {y.OriginalMaxPositionEmbeddings}, theta {c.RopeTheta:G}" : $"plain, theta {c.RopeTheta:G}"),
                ("softmax_scale", c.SoftmaxScale.ToString("G7", CultureInfo.InvariantCulture)),
                ("experts", c.NRoutedExperts == 0 ? "none" : $"{c.NRoutedExperts} routed (top {c.NumExpertsPerTok}) + {c.NSharedExperts} shared, width {c.MoeIntermediateSize}"),
                ("routing", c.NRoutedExperts == 0 ? "-" : $"{c.ScoringFunc.ToString().ToLowerInvariant()}, {TopKName(c.TopKMethod)}, {c.NGroup} groups keep {c.TopKGroup}, norm_topk_prob {c.NormTopKProb.ToString().ToLowerInvariant()}, scale {c.RoutedScalingFactor:G}"),
                ("dense_intermediate", Num(c.IntermediateSize)),
                ("vocab_size", Num(c.VocabSize)),
                ("max_position_embeddings", Num(c.MaxPositionEmbeddings)),
                ("quantization", c.Quantization is { } q ? $"fp8 e4m3, {q.BlockRows}x{q.BlockCols} block scales"
                    : c.IntegerQuantization is { Method: Fathom.Model.IntegerQuantMethod.Awq } awq ? $"awq int4, groups of {awq.GroupSize}"
                    : c.IntegerQuantization is not null ? "w8a8_int8 (int8 weights, per-channel scales)" : "none"),
                ("mtp_modules", $"{model.Weights.Mtp.Length} ({Num(s.MtpParameters)} parameters, kept aside for speculative decoding)"),
                ("total_parameters", Num(s.TotalParameters)),
                ("active_parameters", $"{Num(s.ActiveParameters)} per token"),
                ("weights", Bytes(s.WeightBytes) + " (" + string.Join(", ", s.BytesByType.Select(kv => $"{kv.Key.ToSafeTensors()} {Bytes(kv.Value)}")) + ")"),
                ("read_per_token", $"{Bytes(s.ActiveWeightBytes)} of weights"),
                ("kv_cache", $"{Num(s.KvBytesPerToken)} bytes per token (float32 latent + roped key, all layers)"),
                ("memory_estimate", $"{Bytes(s.WeightBytes + (s.KvBytesPerToken * tokens))} for {Num(tokens)} tokens of context"),
                ("unused_tensors", Num(model.Weights.UnusedTensors.Count)),
            };

            if (result.GetValue(json))
            {
                console.Out.WriteLine(JsonSerializer.Serialize(facts.ToDictionary(f => f.Key, f => f.Value), CliJson.Options));
                return 0;
            }

            int width = facts.Max(f => f.Key.Length);
            foreach (var (key, value) in facts)
            {
                console.Out.WriteLine($"{key.PadRight(width)}  {value}");
            }

            return 0;
        });
        return command;
    }

    private static string TopKName(TopKMethod method) => method switch
    {
        TopKMethod.NoAuxTc => "noaux_tc",
        TopKMethod.GroupLimitedGreedy => "group_limited_greedy",
        _ => "greedy",
    };

    private static string Num(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };
}
