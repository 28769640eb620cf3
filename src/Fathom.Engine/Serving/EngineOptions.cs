namespace Fathom.Engine.Serving;

/// <summary>How the serving engine is sized. Explicit and immutable; the composition root fills it.</summary>
public sealed record EngineOptions
{
    /// <summary>Sequences that run together in one forward pass at most.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Requests that may wait for a place in the batch; more are refused.</summary>
    public int MaxWaiting { get; init; } = 256;

    /// <summary>Longest sequence (prompt + generated tokens).</summary>
    public int MaxContext { get; init; } = 4096;

    /// <summary>Tokens per KV page.</summary>
    public int PageSize { get; init; } = 16;

    /// <summary>Bytes of KV cache to reserve; the page count follows from the model's bytes per token.</summary>
    public long KvCacheBytes { get; init; } = 512L << 20;

    /// <summary>Tokens one forward pass takes at most (decode tokens plus prefill chunks); 0 means the model's chunk size.</summary>
    public int MaxStepTokens { get; init; }

    public bool PrefixCaching { get; init; } = true;

    public void Validate()
    {
        static void Check(bool ok, string name, string rule, object value)
        {
            if (!ok)
            {
                throw new ArgumentException($"{name} must be {rule} (got {value})", name);
            }
        }

        Check(MaxBatch >= 1, "max-batch", "≥ 1", MaxBatch);
        Check(MaxWaiting >= 0, "max-waiting", "≥ 0", MaxWaiting);
        Check(MaxContext >= 2, "max-context", "≥ 2", MaxContext);
        Check(PageSize >= 1, "page size", "≥ 1", PageSize);
        Check(KvCacheBytes > 0, "kv-cache-memory", "> 0", KvCacheBytes);
        Check(MaxStepTokens >= 0, "max step tokens", "≥ 0", MaxStepTokens);
    }
}
