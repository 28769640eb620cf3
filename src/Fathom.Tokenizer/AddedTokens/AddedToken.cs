namespace Fathom.Tokenizer.AddedTokens;

/// <summary>A token from tokenizer.json's <c>added_tokens</c>, matched in the raw text before pre-tokenization.</summary>
internal sealed record AddedToken(
    int Id,
    string Content,
    bool Special,
    bool SingleWord,
    bool LeftStrip,
    bool RightStrip,
    bool Normalized);
