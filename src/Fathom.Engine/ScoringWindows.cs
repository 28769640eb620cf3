namespace Fathom.Engine;

/// <summary>One window of a sliding-window scoring pass: tokens [Begin, End), scoring targets [FirstTarget, End).</summary>
public readonly record struct ScoringWindow(int Begin, int End, int FirstTarget);

/// <summary>
/// The windows of sliding-window scoring over N tokens: windows start at 0, stride, 2·stride, … and each
/// scores only the targets the previous one did not (the first scores positions 1…), so every token after
/// the first is scored once; stops after the window that reaches N.
/// </summary>
public static class ScoringWindows
{
    public static IEnumerable<ScoringWindow> Enumerate(int count, int window, int stride)
    {
        int previousEnd = 0;
        for (int begin = 0; ; begin += stride)
        {
            int end = Math.Min(begin + window, count);
            yield return new ScoringWindow(begin, end, Math.Max(previousEnd, begin + 1));
            previousEnd = end;
            if (end == count)
            {
                yield break;
            }
        }
    }

    public static int Count(int count, int window, int stride)
    {
        int windows = 1;
        for (int begin = 0; begin + window < count; begin += stride)
        {
            windows++;
        }

        return windows;
    }
}
