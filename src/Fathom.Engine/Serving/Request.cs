using System.Threading.Channels;

namespace Fathom.Engine.Serving;

/// <summary>What a client asks the engine for: prompt ids, sampling, stop conditions, and how many top log-probabilities to report per token (-1: none).</summary>
public sealed record Request(
    IReadOnlyList<int> Prompt,
    SamplingParams Sampling,
    StopConditions Stop,
    int TopLogprobs = -1,
    CancellationToken Cancellation = default);

/// <summary>A token's log-probability under the model (before penalties and temperature) and the most likely alternatives.</summary>
public sealed record TokenLogprob(int Id, float Logprob, IReadOnlyList<(int Id, float Logprob)> Top);

/// <summary>How a request ended, with its token counts; <c>Error</c> is set when the engine failed it (finish reason Cancelled).</summary>
public sealed record RequestCompletion(FinishReason FinishReason, int PromptTokens, int CompletionTokens, int CachedPromptTokens, ulong Seed, string? Error = null);

/// <summary>
/// One event of a running request: a generated token with the text it completed (Id -1 for text released
/// at the end), or the completion (always last).
/// </summary>
public sealed record RequestEvent(int Id, string Text, TokenLogprob? Logprob, RequestCompletion? Completion);

/// <summary>The caller's side of a submitted request: its events, in order, ending with the completion.</summary>
public sealed class RequestHandle
{
    private readonly Channel<RequestEvent> _events = Channel.CreateUnbounded<RequestEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    internal RequestHandle(Request request, long id)
    {
        Request = request;
        Id = id;
    }

    public Request Request { get; }

    public long Id { get; }

    public ChannelReader<RequestEvent> Events => _events.Reader;

    internal void Publish(RequestEvent e) => _events.Writer.TryWrite(e);

    internal void Complete() => _events.Writer.TryComplete();

    /// <summary>Reads every event and returns the tokens, text and completion (non-streaming callers).</summary>
    public async Task<(List<RequestEvent> Tokens, string Text, RequestCompletion Completion)> CollectAsync(CancellationToken cancellation = default)
    {
        var tokens = new List<RequestEvent>();
        var text = new System.Text.StringBuilder();
        await foreach (var e in Events.ReadAllAsync(cancellation).ConfigureAwait(false))
        {
            if (e.Completion is { } done)
            {
                return (tokens, text.ToString(), done);
            }

            text.Append(e.Text);
            if (e.Id >= 0)
            {
                tokens.Add(e);
            }
        }

        throw new InvalidOperationException("the request ended without a completion");
    }
}

/// <summary>The waiting queue is full: the client should retry later.</summary>
public sealed class EngineOverloadedException(string message) : Exception(message);
