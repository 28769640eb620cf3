namespace Fathom.Engine;

/// <summary>
/// Streams text while watching for stop strings: text that could still turn into a stop string is held
/// back until it either completes one (generation stops, the stop string and what follows are dropped)
/// or can no longer do so.
/// </summary>
public sealed class StopStringMatcher(IReadOnlyList<string> stopStrings)
{
    private readonly System.Text.StringBuilder _pending = new();

    public bool Stopped { get; private set; }

    /// <summary>Adds decoded text; returns the text that is safe to emit now.</summary>
    public string Push(string text)
    {
        if (Stopped || text.Length == 0)
        {
            return string.Empty;
        }

        if (stopStrings.Count == 0)
        {
            return text;
        }

        _pending.Append(text);
        string pending = _pending.ToString();
        int stopAt = -1;
        foreach (string stop in stopStrings)
        {
            int i = pending.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && (stopAt < 0 || i < stopAt))
            {
                stopAt = i;
            }
        }

        if (stopAt >= 0)
        {
            Stopped = true;
            _pending.Clear();
            return pending[..stopAt];
        }

        int hold = 0;
        foreach (string stop in stopStrings)
        {
            for (int len = Math.Min(stop.Length - 1, pending.Length); len > hold; len--)
            {
                if (pending.AsSpan(pending.Length - len).SequenceEqual(stop.AsSpan(0, len)))
                {
                    hold = len;
                    break;
                }
            }
        }

        _pending.Clear();
        _pending.Append(pending, pending.Length - hold, hold);
        return pending[..^hold];
    }

    /// <summary>Releases held-back text at the end of generation.</summary>
    public string Flush()
    {
        string rest = Stopped ? string.Empty : _pending.ToString();
        _pending.Clear();
        return rest;
    }
}
