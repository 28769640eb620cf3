using System.Globalization;
using System.Text;

namespace Fathom.Tokenizer.PreTokenization;

/// <summary>
/// Every numeric character (Rust's <c>char::is_numeric</c>: Nd, Nl, No) as a match of its own; the Digits
/// pre-tokenizer isolates them or joins runs of them.
/// </summary>
internal sealed class NumericCharacterPattern : ISplitPattern
{
    public void FindMatches(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        var position = 0;
        while (position < text.Length)
        {
            Rune.DecodeFromUtf16(text[position..], out var rune, out var length);
            if (Rune.GetUnicodeCategory(rune) is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber)
            {
                matches.Add((position, position + length));
            }

            position += length;
        }
    }
}
