namespace Fathom.Tokenizer.PreTokenization;

/// <summary>A Split pattern given as a plain string (<c>{"String": "..."}</c>).</summary>
internal sealed class LiteralSplitPattern : ISplitPattern
{
    private readonly string _literal;

    public LiteralSplitPattern(string literal)
    {
        _literal = literal;
    }

    public void FindMatches(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        // HF treats an empty literal as "never matches".
        if (_literal.Length == 0)
        {
            return;
        }

        var offset = 0;
        while (offset <= text.Length)
        {
            var index = text[offset..].IndexOf(_literal, StringComparison.Ordinal);
            if (index < 0)
            {
                return;
            }

            matches.Add((offset + index, offset + index + _literal.Length));
            offset += index + _literal.Length;
        }
    }
}
