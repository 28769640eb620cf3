using System.Globalization;
using System.Text;

namespace Fathom.Tokenizer.AddedTokens;

/// <summary>
/// Finds added tokens in text the way HF's AddedVocabulary does: leftmost-longest, non-overlapping matches
/// (an Aho-Corasick scan, here a character trie), honouring <c>single_word</c>, <c>lstrip</c> and <c>rstrip</c>.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly TrieNode _root = new();

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        foreach (var token in tokens)
        {
            if (token.Content.Length == 0)
            {
                continue;
            }

            var node = _root;
            foreach (var c in token.Content)
            {
                node = node.Child(c);
            }

            node.Token ??= token;
        }
    }

    public bool IsEmpty => _root.Children is null;

    /// <summary>
    /// Splits <paramref name="text"/> into segments that cover it: added-token matches (with their token) and
    /// the plain text between them (token null).
    /// </summary>
    public void Split(ReadOnlyMemory<char> text, List<(ReadOnlyMemory<char> Text, AddedToken? Token)> output)
    {
        if (IsEmpty)
        {
            output.Add((text, null));
            return;
        }

        var span = text.Span;
        var emitted = 0;
        var position = 0;
        while (position < span.Length)
        {
            if (!TryMatchAt(span, position, out var token, out var matchEnd))
            {
                position++;
                continue;
            }

            // Like HF, a rejected match is skipped whole: the scan resumes after it.
            var start = position;
            var stop = matchEnd;
            position = matchEnd;
            if (token.SingleWord && !IsSingleWord(span, start, stop))
            {
                continue;
            }

            if (token.LeftStrip)
            {
                start = Math.Max(LeadingWhiteSpaceStart(span, start), emitted);
            }

            if (token.RightStrip)
            {
                stop = TrailingWhiteSpaceEnd(span, stop);
                position = stop;
            }

            if (emitted < start)
            {
                output.Add((text[emitted..start], null));
            }

            output.Add((text[start..stop], token));
            emitted = stop;
        }

        if (emitted < span.Length || span.Length == 0)
        {
            output.Add((text[emitted..], null));
        }
    }

    private bool TryMatchAt(ReadOnlySpan<char> text, int position, out AddedToken token, out int end)
    {
        token = null!;
        end = -1;
        var node = _root;
        for (var i = position; i < text.Length; i++)
        {
            node = node.Find(text[i]);
            if (node is null)
            {
                break;
            }

            if (node.Token is not null)
            {
                token = node.Token;
                end = i + 1;
            }
        }

        return end >= 0;
    }

    // HF decides "word" with the regex crate's Unicode \w.
    private static bool IsSingleWord(ReadOnlySpan<char> text, int start, int stop)
    {
        var wordBefore = start > 0 && IsWordRune(LastRune(text[..start]));
        var wordAfter = stop < text.Length && IsWordRune(FirstRune(text[stop..]));
        return !wordBefore && !wordAfter;
    }

    private static int LeadingWhiteSpaceStart(ReadOnlySpan<char> text, int start)
    {
        while (start > 0 && Rune.DecodeLastFromUtf16(text[..start], out var rune, out var length) == System.Buffers.OperationStatus.Done
            && Rune.IsWhiteSpace(rune))
        {
            start -= length;
        }

        return start;
    }

    private static int TrailingWhiteSpaceEnd(ReadOnlySpan<char> text, int stop)
    {
        while (stop < text.Length && Rune.DecodeFromUtf16(text[stop..], out var rune, out var length) == System.Buffers.OperationStatus.Done
            && Rune.IsWhiteSpace(rune))
        {
            stop += length;
        }

        return stop;
    }

    private static Rune FirstRune(ReadOnlySpan<char> text)
    {
        Rune.DecodeFromUtf16(text, out var rune, out _);
        return rune;
    }

    private static Rune LastRune(ReadOnlySpan<char> text)
    {
        Rune.DecodeLastFromUtf16(text, out var rune, out _);
        return rune;
    }

    private static bool IsWordRune(Rune rune) => Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
            or UnicodeCategory.ConnectorPunctuation => true,
        _ => false,
    };

    private sealed class TrieNode
    {
        public Dictionary<char, TrieNode>? Children { get; private set; }

        public AddedToken? Token { get; set; }

        public TrieNode Child(char c)
        {
            Children ??= [];
            if (!Children.TryGetValue(c, out var child))
            {
                Children[c] = child = new TrieNode();
            }

            return child;
        }

        public TrieNode? Find(char c) => Children is not null && Children.TryGetValue(c, out var child) ? child : null;
    }
}
