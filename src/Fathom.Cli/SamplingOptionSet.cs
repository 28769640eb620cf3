using System.CommandLine;
using System.Text.Json;
using Fathom.Engine;

namespace Fathom.Cli;

/// <summary>Sampling and stopping options shared by generate and chat. Unset values fall back to generation_config.json, then to defaults.</summary>
public sealed class SamplingOptionSet
{
    public Option<int> MaxTokens { get; } = new("--max-tokens", "-n") { Description = "Most tokens to generate.", DefaultValueFactory = _ => 256 };

    public Option<float?> Temperature { get; } = new("--temperature") { Description = "0 is greedy (default: generation_config.json, else 0.8)." };

    public Option<int?> TopK { get; } = new("--top-k") { Description = "Keep the k most likely tokens (0 = off)." };

    public Option<float?> TopP { get; } = new("--top-p") { Description = "Nucleus sampling mass (1 = off)." };

    public Option<float?> MinP { get; } = new("--min-p") { Description = "Drop tokens below min_p × the best probability (0 = off)." };

    public Option<float> RepetitionPenalty { get; } = new("--repetition-penalty") { Description = "Multiplicative penalty on seen tokens (1 = off).", DefaultValueFactory = _ => 1f };

    public Option<float> PresencePenalty { get; } = new("--presence-penalty") { Description = "Additive penalty on tokens already generated.", DefaultValueFactory = _ => 0f };

    public Option<float> FrequencyPenalty { get; } = new("--frequency-penalty") { Description = "Additive penalty per occurrence in the output.", DefaultValueFactory = _ => 0f };

    public Option<ulong?> Seed { get; } = new("--seed") { Description = "Random seed: the same seed gives the same output." };

    public Option<string[]> Stop { get; } = new("--stop") { Description = "Stop when this text appears (repeatable).", AllowMultipleArgumentsPerToken = false };

    public Option<bool> IgnoreEos { get; } = new("--ignore-eos") { Description = "Keep generating past end-of-sequence tokens." };

    public Option<int> MaxContext { get; } = new("--max-context") { Description = "KV cache size in tokens (capped by the model's max_position_embeddings).", DefaultValueFactory = _ => 4096 };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { MaxTokens, Temperature, TopK, TopP, MinP, RepetitionPenalty, PresencePenalty, FrequencyPenalty, Seed, Stop, IgnoreEos, MaxContext })
        {
            command.Options.Add(option);
        }
    }

    public SamplingParams ReadSampling(ParseResult result, string modelDirectory)
    {
        var defaults = GenerationDefaults.Read(modelDirectory);
        var sampling = new SamplingParams
        {
            Temperature = result.GetValue(Temperature) ?? defaults.Temperature ?? 0.8f,
            TopK = result.GetValue(TopK) ?? defaults.TopK ?? 0,
            TopP = result.GetValue(TopP) ?? defaults.TopP ?? 0.95f,
            MinP = result.GetValue(MinP) ?? 0f,
            RepetitionPenalty = result.GetValue(RepetitionPenalty),
            PresencePenalty = result.GetValue(PresencePenalty),
            FrequencyPenalty = result.GetValue(FrequencyPenalty),
            Seed = result.GetValue(Seed),
        };
        try
        {
            sampling.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CliException($"--{e.ParamName!.Replace('_', '-')}: {e.Message}");
        }

        return sampling;
    }

    public StopConditions ReadStop(ParseResult result)
    {
        int maxTokens = result.GetValue(MaxTokens);
        if (maxTokens < 1)
        {
            throw new CliException($"--max-tokens must be ≥ 1 (got {maxTokens})");
        }

        string[] stops = result.GetValue(Stop) ?? [];
        if (stops.Any(string.IsNullOrEmpty))
        {
            throw new CliException("--stop must not be empty");
        }

        return new StopConditions
        {
            MaxTokens = maxTokens,
            StopStrings = [.. stops.Select(s => s.Replace("\\n", "\n", StringComparison.Ordinal))],
            IgnoreEos = result.GetValue(IgnoreEos),
        };
    }

    public int ReadMaxContext(ParseResult result) =>
        result.GetValue(MaxContext) is var n && n >= 2 ? n : throw new CliException($"--max-context must be ≥ 2 (got {n})");

    /// <summary>The sampling defaults a model ships in generation_config.json.</summary>
    private sealed record GenerationDefaults(float? Temperature, float? TopP, int? TopK)
    {
        public static GenerationDefaults Read(string modelDirectory)
        {
            string path = Path.Combine(modelDirectory, "generation_config.json");
            if (!File.Exists(path))
            {
                return new GenerationDefaults(null, null, null);
            }

            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
                var root = doc.RootElement;
                bool sample = !root.TryGetProperty("do_sample", out var ds) || ds.ValueKind != JsonValueKind.False;
                float? Number(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetSingle() : null;
                return new GenerationDefaults(sample ? Number("temperature") : 0f, Number("top_p"), (int?)Number("top_k"));
            }
            catch (JsonException e)
            {
                throw new CliException($"{path}: invalid JSON: {e.Message}");
            }
        }
    }
}
