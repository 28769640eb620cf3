using System.Globalization;
using System.Text;

namespace Fathom.Tokenizer.Text;

/// <summary>
/// Writes a <see cref="CodePointSet"/> as a .NET regex fragment that matches exactly one member code point:
/// a class of BMP characters, or one of the surrogate pairs that encode the astral members.
/// </summary>
internal static class Utf16SetPattern
{
    /// <param name="set">The code points to match.</param>
    /// <param name="guardAstral">
    /// Puts a one-unit lookahead before the surrogate alternatives so BMP text skips them cheaply; must be off inside
    /// lookbehinds, which .NET matches right to left, where a lookahead would look the wrong way.
    /// </param>
    public static string Of(CodePointSet set, bool guardAstral)
    {
        var bmp = new List<(int Start, int End)>();
        var astral = new List<(int Start, int End)>();
        foreach (var (start, end) in set.Ranges)
        {
            AddClipped(bmp, start, end, 0, 0xD7FF);
            AddClipped(bmp, start, end, 0xE000, 0xFFFF);
            AddClipped(astral, start, end, 0x10000, CodePointSet.MaxCodePoint);
        }

        var alternatives = new List<string>();
        if (bmp.Count > 0)
        {
            alternatives.Add(ClassOf(bmp));
        }

        if (astral.Count > 0)
        {
            var pairs = string.Join("|", SurrogatePairAlternatives(astral));
            alternatives.Add(guardAstral ? "(?=[\\uD800-\\uDBFF])(?:" + pairs + ")" : "(?:" + pairs + ")");
        }

        return alternatives.Count switch
        {
            0 => "(?!)",
            1 when bmp.Count > 0 => alternatives[0],
            _ => "(?:" + string.Join("|", alternatives) + ")",
        };
    }

    /// <summary>A UTF-16 code unit as a regex escape.</summary>
    public static string Unit(int codeUnit) => "\\u" + codeUnit.ToString("X4", CultureInfo.InvariantCulture);

    private static IEnumerable<string> SurrogatePairAlternatives(List<(int Start, int End)> astral)
    {
        // For every high surrogate, the ranges of low surrogates that complete a member.
        var lowsByHigh = new SortedDictionary<int, List<(int Start, int End)>>();
        foreach (var (start, end) in astral)
        {
            for (var blockStart = start; blockStart <= end;)
            {
                var block = (blockStart - 0x10000) >> 10;
                var blockEnd = Math.Min(end, 0x10000 + ((block + 1) << 10) - 1);
                if (!lowsByHigh.TryGetValue(0xD800 + block, out var lows))
                {
                    lowsByHigh[0xD800 + block] = lows = [];
                }

                lows.Add((0xDC00 + ((blockStart - 0x10000) & 0x3FF), 0xDC00 + ((blockEnd - 0x10000) & 0x3FF)));
                blockStart = blockEnd + 1;
            }
        }

        // Consecutive high surrogates with the same low ranges share one alternative.
        var entries = lowsByHigh.Select(kv => (High: kv.Key, Lows: ClassOf(kv.Value))).ToList();
        for (var i = 0; i < entries.Count;)
        {
            var j = i;
            while (j + 1 < entries.Count && entries[j + 1].High == entries[j].High + 1 && entries[j + 1].Lows == entries[i].Lows)
            {
                j++;
            }

            yield return ClassOf([(entries[i].High, entries[j].High)]) + entries[i].Lows;
            i = j + 1;
        }
    }

    private static void AddClipped(List<(int Start, int End)> target, int start, int end, int min, int max)
    {
        var s = Math.Max(start, min);
        var e = Math.Min(end, max);
        if (s <= e)
        {
            target.Add((s, e));
        }
    }

    private static string ClassOf(IReadOnlyList<(int Start, int End)> ranges)
    {
        if (ranges.Count == 1 && ranges[0].Start == ranges[0].End)
        {
            return Unit(ranges[0].Start);
        }

        var builder = new StringBuilder("[");
        foreach (var (start, end) in ranges)
        {
            builder.Append(Unit(start));
            if (end != start)
            {
                builder.Append(end == start + 1 ? "" : "-").Append(Unit(end));
            }
        }

        return builder.Append(']').ToString();
    }
}
