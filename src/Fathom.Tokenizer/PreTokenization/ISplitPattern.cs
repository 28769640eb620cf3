namespace Fathom.Tokenizer.PreTokenization;

/// <summary>What a Split pre-tokenizer looks for: a regex or a literal string.</summary>
internal interface ISplitPattern
{
    /// <summary>Appends the non-overlapping matches in <paramref name="text"/>, left to right, as [start, end) offsets.</summary>
    void FindMatches(ReadOnlySpan<char> text, List<(int Start, int End)> matches);
}
