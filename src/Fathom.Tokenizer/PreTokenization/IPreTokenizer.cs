namespace Fathom.Tokenizer.PreTokenization;

/// <summary>One step of pre-tokenization: splits (and possibly rewrites) one piece of text into smaller pieces.</summary>
internal interface IPreTokenizer
{
    /// <summary>Appends the pieces of <paramref name="piece"/> to <paramref name="output"/>; empty pieces may be appended and are dropped by the caller.</summary>
    void Split(ReadOnlyMemory<char> piece, List<ReadOnlyMemory<char>> output);
}
