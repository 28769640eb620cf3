using System.Diagnostics;
using System.Text;
using Fathom.Engine.Serving;

namespace Fathom.Server;

/// <summary>What one choice of a response has produced so far, and its timing.</summary>
internal sealed class ChoiceState(int index, bool splitReasoning, bool startsInThinking, long arrival)
{
    private readonly ReasoningSplitter? _splitter = splitReasoning ? new ReasoningSplitter(startsInThinking) : null;
    private long _lastToken;

    public int Index { get; } = index;

    public StringBuilder Content { get; } = new();

    public StringBuilder Reasoning { get; } = new();

    public List<int> TokenIds { get; } = [];

    public List<TokenLogprob> Logprobs { get; } = [];

    public RequestCompletion? Completion { get; set; }

    /// <summary>Takes a token event; returns the reasoning and answer text it released, and records timing.</summary>
    public (string Reasoning, string Content) Take(RequestEvent e, ServerMetrics metrics)
    {
        if (e.Id >= 0)
        {
            long now = Stopwatch.GetTimestamp();
            if (TokenIds.Count == 0)
            {
                metrics.TimeToFirstToken.Observe(Stopwatch.GetElapsedTime(arrival, now).TotalSeconds);
            }
            else
            {
                metrics.InterTokenLatency.Observe(Stopwatch.GetElapsedTime(_lastToken, now).TotalSeconds);
            }

            _lastToken = now;
            TokenIds.Add(e.Id);
            if (e.Logprob is { } lp)
            {
                Logprobs.Add(lp);
            }
        }

        var (reasoning, content) = _splitter?.Push(e.Text) ?? (string.Empty, e.Text);
        if (e.Completion is not null && _splitter is not null)
        {
            var (r, c) = _splitter.Flush();
            reasoning += r;
            content += c;
        }

        Reasoning.Append(reasoning);
        Content.Append(content);
        return (reasoning, content);
    }
}
