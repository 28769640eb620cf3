namespace Fathom.Tokenizer.PreTokenization;

/// <summary>HF's Split pre-tokenizer: cuts each piece at the pattern's matches and keeps them according to the behaviour.</summary>
internal sealed class SplitPreTokenizer : IPreTokenizer
{
    private readonly ISplitPattern _pattern;
    private readonly SplitDelimiterBehavior _behavior;
    private readonly bool _invert;

    [ThreadStatic]
    private static List<(int Start, int End)>? t_matches;

    [ThreadStatic]
    private static List<(int Start, int End, bool IsMatch)>? t_segments;

    public SplitPreTokenizer(ISplitPattern pattern, SplitDelimiterBehavior behavior, bool invert)
    {
        _pattern = pattern;
        _behavior = behavior;
        _invert = invert;
    }

    public void Split(ReadOnlyMemory<char> piece, List<ReadOnlyMemory<char>> output)
    {
        var matches = t_matches ??= [];
        var segments = t_segments ??= [];
        matches.Clear();
        segments.Clear();
        _pattern.FindMatches(piece.Span, matches);

        // Cover the whole piece with alternating non-match / match segments, as HF's find_matches does.
        var previous = 0;
        foreach (var (start, end) in matches)
        {
            if (start != previous)
            {
                segments.Add((previous, start, _invert));
            }

            segments.Add((start, end, !_invert));
            previous = end;
        }

        if (previous != piece.Length)
        {
            segments.Add((previous, piece.Length, _invert));
        }

        switch (_behavior)
        {
            case SplitDelimiterBehavior.Isolated:
                foreach (var (start, end, _) in segments)
                {
                    output.Add(piece[start..end]);
                }

                break;
            case SplitDelimiterBehavior.Removed:
                foreach (var (start, end, isMatch) in segments)
                {
                    if (!isMatch)
                    {
                        output.Add(piece[start..end]);
                    }
                }

                break;
            case SplitDelimiterBehavior.Contiguous:
                EmitMerged(piece, segments, output, (previousIsMatch, isMatch) => isMatch == previousIsMatch);
                break;
            case SplitDelimiterBehavior.MergedWithPrevious:
                EmitMerged(piece, segments, output, (previousIsMatch, isMatch) => isMatch && !previousIsMatch);
                break;
            case SplitDelimiterBehavior.MergedWithNext:
                EmitMergedWithNext(piece, segments, output);
                break;
        }
    }

    /// <summary>Walks left to right, extending the last piece when <paramref name="joins"/> says the segment belongs to it.</summary>
    private static void EmitMerged(
        ReadOnlyMemory<char> piece,
        List<(int Start, int End, bool IsMatch)> segments,
        List<ReadOnlyMemory<char>> output,
        Func<bool, bool, bool> joins)
    {
        var pieces = new List<(int Start, int End)>(segments.Count);
        var previousIsMatch = false;
        foreach (var (start, end, isMatch) in segments)
        {
            if (joins(previousIsMatch, isMatch) && pieces.Count > 0)
            {
                pieces[^1] = (pieces[^1].Start, end);
            }
            else
            {
                pieces.Add((start, end));
            }

            previousIsMatch = isMatch;
        }

        foreach (var (start, end) in pieces)
        {
            output.Add(piece[start..end]);
        }
    }

    /// <summary>Walks right to left so that each match is prefixed to the piece that follows it.</summary>
    private static void EmitMergedWithNext(
        ReadOnlyMemory<char> piece,
        List<(int Start, int End, bool IsMatch)> segments,
        List<ReadOnlyMemory<char>> output)
    {
        var pieces = new List<(int Start, int End)>(segments.Count);
        var previousIsMatch = false;
        for (var i = segments.Count - 1; i >= 0; i--)
        {
            var (start, end, isMatch) = segments[i];
            if (isMatch && !previousIsMatch && pieces.Count > 0)
            {
                pieces[^1] = (start, pieces[^1].End);
            }
            else
            {
                pieces.Add((start, end));
            }

            previousIsMatch = isMatch;
        }

        for (var i = pieces.Count - 1; i >= 0; i--)
        {
            output.Add(piece[pieces[i].Start..pieces[i].End]);
        }
    }
}
