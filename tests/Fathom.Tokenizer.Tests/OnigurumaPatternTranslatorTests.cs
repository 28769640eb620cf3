using System.Text.RegularExpressions;
using Fathom.Tokenizer.Text;

namespace Fathom.Tokenizer.Tests;

/// <summary>
/// HF runs pre-tokenizer regexes with Oniguruma over code points; .NET matches UTF-16 units. The translated
/// patterns must treat an astral character (emoji, math letters, CJK extension B) as one character of its category.
/// </summary>
public sealed class OnigurumaPatternTranslatorTests
{
    private static string[] Matches(string onigurumaPattern, string text) =>
        [.. new Regex(OnigurumaPatternTranslator.Translate(onigurumaPattern)).Matches(text).Select(m => m.Value)];

    [Fact]
    public void DotNetAloneDoesNotSeeAstralLetters()
    {
        Assert.DoesNotMatch(@"^\p{L}+$", "𝐀");
        Assert.Equal(["𝐀𝐁"], Matches(@"\p{L}+", "𝐀𝐁"));
    }

    [Fact]
    public void QuantifiersCountCodePoints() =>
        Assert.Equal(["𝟏𝟐𝟑", "𝟒"], Matches(@"\p{N}{1,3}", "𝟏𝟐𝟑𝟒"));

    [Fact]
    public void NegatedClassesMatchAstralCharactersOutsideThem() =>
        Assert.Equal(["𠀀x", " 𠀁"], Matches(@"[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+", "𠀀x 𠀁"));

    [Fact]
    public void SymbolClassesTakeWholeEmoji() =>
        Assert.Equal([" 😀🚀👍🏽", "🇨🇳"], Matches(@" ?[\p{P}\p{S}]+", " 😀🚀👍🏽x🇨🇳"));

    [Fact]
    public void ShorthandsMatchWholeAstralCharacters()
    {
        Assert.Equal(["😀", "x"], Matches(@"\S", "😀x"));
        Assert.Equal([" "], Matches(@"\s+(?!\S)", "a  😀"));
    }

    [Fact]
    public void DotAndRangesWorkOnCodePoints()
    {
        Assert.Equal(["😀"], Matches("^.$", "😀"));
        Assert.Equal(["😁😂"], Matches("[😁-😃]+", "😀😁😂"));
        Assert.Equal(["a😀"], Matches(@"a\x{1F600}", "a😀"));
    }

    [Fact]
    public void RubySyntaxDetailsAreTranslated()
    {
        Assert.Empty(Matches("a*+a", "aaa"));
        Assert.Equal(["ab", "ab"], Matches("(?i:AB)", "abAB").Select(s => s.ToLowerInvariant()).ToArray());
        Assert.Equal(["x"], Matches("^x$", "y\nx"));
        Assert.Equal(["aab"], Matches("a{,2}b", "aaab"));
    }

    [Theory]
    [InlineData(@"\p{Han}")]
    [InlineData(@"a\Kb")]
    [InlineData("(unclosed")]
    [InlineData("[unclosed")]
    [InlineData("[[:alpha:]]")]
    public void UnsupportedSyntaxIsReportedWithThePattern(string pattern)
    {
        var error = Assert.Throws<FormatException>(() => OnigurumaPatternTranslator.Translate(pattern));

        Assert.Contains(pattern, error.Message, StringComparison.Ordinal);
    }
}
