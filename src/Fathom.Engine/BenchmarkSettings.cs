namespace Fathom.Engine;

/// <summary>What <see cref="BenchmarkRunner"/> measures: llama-bench's pp and tg tests, repeated.</summary>
public sealed record BenchmarkSettings
{
    /// <summary>Tokens of the prefill test (0 skips it): one forward pass over a fresh cache.</summary>
    public int PromptTokens { get; init; } = 512;

    /// <summary>Tokens of the decode test (0 skips it), run one forward pass each.</summary>
    public int GenTokens { get; init; } = 128;

    /// <summary>
    /// Untimed prompt before the decode test, so decoding starts from a short context as in a conversation;
    /// llama-bench starts from an empty one, and 8 tokens of latent cache cost next to nothing.
    /// </summary>
    public int DecodePromptTokens { get; init; } = 8;

    /// <summary>Repetitions of the (prefill, decode) pair; interleaving keeps drifting load from favouring one test.</summary>
    public int Repetitions { get; init; } = 3;

    /// <summary>Seed of the random token ids (the weights do not care what the tokens mean).</summary>
    public ulong Seed { get; init; }

    /// <summary>One untimed round first: compiles the code paths, sizes the scratch buffers and touches the weights.</summary>
    public bool Warmup { get; init; } = true;

    /// <summary>Batch sizes of the decode test; sizes above 1 run that many sequences per forward pass.</summary>
    public IReadOnlyList<int> DecodeBatches { get; init; } = [1];

    public void Validate(int maxPositions)
    {
        if (DecodeBatches.Any(b => b < 1))
        {
            throw new ArgumentException($"decode batch sizes must be at least 1 (got {string.Join(",", DecodeBatches)})");
        }

        if (PromptTokens < 0 || GenTokens < 0 || DecodePromptTokens < 1)
        {
            throw new ArgumentException($"prompt tokens ({PromptTokens}) and gen tokens ({GenTokens}) must not be negative, decode prompt tokens ({DecodePromptTokens}) must be positive");
        }

        if (PromptTokens == 0 && GenTokens == 0)
        {
            throw new ArgumentException("nothing to measure: prompt tokens and gen tokens are both 0");
        }

        if (Repetitions < 1)
        {
            throw new ArgumentException($"repetitions must be at least 1 (got {Repetitions})");
        }

        int longest = Math.Max(PromptTokens, DecodePromptTokens + GenTokens);
        if (longest > maxPositions)
        {
            throw new ArgumentException($"a {longest}-token sequence exceeds the model's max_position_embeddings {maxPositions}");
        }
    }
}
