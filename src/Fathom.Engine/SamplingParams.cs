namespace Fathom.Engine;

/// <summary>
/// How the next token is chosen. Temperature 0 is greedy. Filters apply in vLLM's order: penalties,
/// temperature, top-k, top-p, min-p.
/// </summary>
public sealed record SamplingParams
{
    public static SamplingParams Greedy { get; } = new() { Temperature = 0 };

    public float Temperature { get; init; } = 1f;

    /// <summary>Keep the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set whose probability reaches p; 1 keeps all.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Drop tokens less likely than min_p times the most likely one; 0 keeps all.</summary>
    public float MinP { get; init; }

    /// <summary>Hugging Face's multiplicative penalty on tokens of the prompt and output; 1 is off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>OpenAI's additive penalty on tokens that appeared in the output.</summary>
    public float PresencePenalty { get; init; }

    /// <summary>OpenAI's additive penalty per occurrence in the output.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Same seed, same output; null draws a seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first parameter out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string name, string rule, object value)
        {
            if (!ok)
            {
                throw new ArgumentException($"{name} must be {rule} (got {value})", name);
            }
        }

        Check(float.IsFinite(Temperature) && Temperature >= 0, "temperature", "a finite number ≥ 0", Temperature);
        Check(TopK >= 0, "top_k", "≥ 0 (0 disables it)", TopK);
        Check(TopP > 0 && TopP <= 1, "top_p", "in (0, 1]", TopP);
        Check(MinP >= 0 && MinP <= 1, "min_p", "in [0, 1]", MinP);
        Check(float.IsFinite(RepetitionPenalty) && RepetitionPenalty > 0, "repetition_penalty", "> 0", RepetitionPenalty);
        Check(float.IsFinite(PresencePenalty) && PresencePenalty >= -2 && PresencePenalty <= 2, "presence_penalty", "in [-2, 2]", PresencePenalty);
        Check(float.IsFinite(FrequencyPenalty) && FrequencyPenalty >= -2 && FrequencyPenalty <= 2, "frequency_penalty", "in [-2, 2]", FrequencyPenalty);
    }
}

/// <summary>When generation ends.</summary>
public sealed record StopConditions
{
    public int MaxTokens { get; init; } = 256;

    /// <summary>Text that ends generation; it is not part of the output text.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Token ids that end generation besides the model's end-of-sequence ids.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Keep going through end-of-sequence tokens (benchmarks, reference comparisons).</summary>
    public bool IgnoreEos { get; init; }

    public void Validate()
    {
        if (MaxTokens < 1)
        {
            throw new ArgumentException($"max_tokens must be ≥ 1 (got {MaxTokens})", "max_tokens");
        }

        if (StopStrings.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("stop strings must not be empty", "stop");
        }
    }
}
