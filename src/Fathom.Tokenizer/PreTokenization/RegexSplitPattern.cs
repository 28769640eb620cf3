using System.Text.RegularExpressions;
using Fathom.Tokenizer.Text;

namespace Fathom.Tokenizer.PreTokenization;

/// <summary>A Split pattern given as an Oniguruma regex, run by .NET Regex after translation to code-point semantics.</summary>
internal sealed class RegexSplitPattern : ISplitPattern
{
    private readonly Regex _regex;

    public RegexSplitPattern(string onigurumaPattern)
    {
        Source = onigurumaPattern;
        _regex = new Regex(OnigurumaPatternTranslator.Translate(onigurumaPattern), RegexOptions.CultureInvariant | RegexOptions.Compiled);
    }

    /// <summary>The pattern as written in tokenizer.json.</summary>
    public string Source { get; }

    public void FindMatches(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        foreach (var match in _regex.EnumerateMatches(text))
        {
            matches.Add((match.Index, match.Index + match.Length));
        }
    }
}
