using System.Text;

namespace Fathom.Tokenizer.Text;

/// <summary>
/// An immutable set of Unicode code points (0..10FFFF) held as sorted, disjoint, non-adjacent
/// inclusive ranges. Regex character classes are evaluated into these so that they can be
/// re-emitted for .NET's UTF-16 engine with code-point semantics.
/// </summary>
internal sealed class CodePointSet
{
    public const int MaxCodePoint = 0x10FFFF;

    private readonly (int Start, int End)[] _ranges;

    private CodePointSet((int Start, int End)[] normalizedRanges)
    {
        _ranges = normalizedRanges;
    }

    public static CodePointSet Empty { get; } = new([]);

    public static CodePointSet All { get; } = new([(0, MaxCodePoint)]);

    public IReadOnlyList<(int Start, int End)> Ranges => _ranges;

    public bool IsEmpty => _ranges.Length == 0;

    public static CodePointSet Single(int codePoint) => new([(codePoint, codePoint)]);

    public static CodePointSet Range(int start, int end) => FromRanges([(start, end)]);

    public static CodePointSet FromRanges(IEnumerable<(int Start, int End)> ranges)
    {
        var sorted = ranges.Where(r => r.Start <= r.End).OrderBy(r => r.Start).ToList();
        var merged = new List<(int Start, int End)>(sorted.Count);
        foreach (var range in sorted)
        {
            if (merged.Count > 0 && range.Start <= merged[^1].End + 1)
            {
                var last = merged[^1];
                merged[^1] = (last.Start, Math.Max(last.End, range.End));
            }
            else
            {
                merged.Add(range);
            }
        }

        return new CodePointSet([.. merged]);
    }

    public static CodePointSet FromCodePoints(IEnumerable<int> codePoints) => FromRanges(codePoints.Select(c => (c, c)));

    public bool Contains(int codePoint)
    {
        int lo = 0, hi = _ranges.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (codePoint < _ranges[mid].Start)
            {
                hi = mid - 1;
            }
            else if (codePoint > _ranges[mid].End)
            {
                lo = mid + 1;
            }
            else
            {
                return true;
            }
        }

        return false;
    }

    public CodePointSet Union(CodePointSet other) => FromRanges(_ranges.Concat(other._ranges));

    public CodePointSet Complement()
    {
        var result = new List<(int Start, int End)>(_ranges.Length + 1);
        var next = 0;
        foreach (var (start, end) in _ranges)
        {
            if (start > next)
            {
                result.Add((next, start - 1));
            }

            next = end + 1;
        }

        if (next <= MaxCodePoint)
        {
            result.Add((next, MaxCodePoint));
        }

        return new CodePointSet([.. result]);
    }

    public CodePointSet Intersect(CodePointSet other) => Complement().Union(other.Complement()).Complement();

    /// <summary>Adds the simple upper/lower-case partners of every member (for case-insensitive classes).</summary>
    public CodePointSet WithCaseVariants()
    {
        var extra = new List<int>();
        foreach (var (start, end) in _ranges)
        {
            for (var c = start; c <= end; c++)
            {
                if (c is >= 0xD800 and <= 0xDFFF)
                {
                    continue;
                }

                var rune = new Rune(c);
                var lower = Rune.ToLowerInvariant(rune).Value;
                var upper = Rune.ToUpperInvariant(rune).Value;
                if (lower != c)
                {
                    extra.Add(lower);
                }

                if (upper != c)
                {
                    extra.Add(upper);
                }
            }
        }

        return extra.Count == 0 ? this : Union(FromCodePoints(extra));
    }
}
