namespace Fathom.Engine;

public enum FinishReason
{
    /// <summary>An end-of-sequence token, a stop token or a stop string.</summary>
    Stop,

    /// <summary>max_tokens or the context limit.</summary>
    Length,

    Cancelled,
}

/// <summary>One generated token and the text it completed (possibly empty while a character or a stop string is pending).</summary>
public readonly record struct TokenEvent(int Id, string Text, int Index);

public sealed record GenerationResult(
    IReadOnlyList<int> OutputIds,
    string Text,
    FinishReason FinishReason,
    int PromptTokens,
    int ReusedPromptTokens,
    TimeSpan PrefillTime,
    TimeSpan DecodeTime,
    ulong Seed)
{
    /// <summary>Generated tokens per second after the first (the decode rate).</summary>
    public double DecodeTokensPerSecond => OutputIds.Count > 1 && DecodeTime > TimeSpan.Zero ? (OutputIds.Count - 1) / DecodeTime.TotalSeconds : 0;

    public double PrefillTokensPerSecond => PrefillTime > TimeSpan.Zero ? (PromptTokens - ReusedPromptTokens) / PrefillTime.TotalSeconds : 0;
}
