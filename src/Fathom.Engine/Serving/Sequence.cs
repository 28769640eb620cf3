using Fathom.Engine.Paging;
using Fathom.Tokenizer;

namespace Fathom.Engine.Serving;

/// <summary>
/// A request inside the engine: its tokens (prompt, then generated), its pages, sampler and text state.
/// Tokens beyond the cache's length are pending: a prefill chunk, or the last sampled token of a decode step.
/// </summary>
internal sealed class Sequence
{
    private int[] _tokens;

    public Sequence(RequestHandle handle, PagedSequenceCache cache, int vocab, TextTokenizer? tokenizer)
    {
        Handle = handle;
        Cache = cache;
        var prompt = handle.Request.Prompt;
        _tokens = new int[Math.Max(16, prompt.Count + Math.Min(handle.Request.Stop.MaxTokens, 1024))];
        for (int i = 0; i < prompt.Count; i++)
        {
            _tokens[i] = prompt[i];
        }

        Count = PromptLength = prompt.Count;
        Sampler = new Sampler(handle.Request.Sampling, vocab);
        Sampler.AddPrompt(_tokens.AsSpan(0, Count));
        Decoder = tokenizer?.CreateStreamingDecoder(skipSpecialTokens: true);
        Stops = new StopStringMatcher(handle.Request.Stop.StopStrings);
        RawLogits = handle.Request.TopLogprobs >= 0 ? new float[vocab] : null;
    }

    public RequestHandle Handle { get; }

    public Request Request => Handle.Request;

    public PagedSequenceCache Cache { get; }

    public Sampler Sampler { get; }

    public StreamingDecoder? Decoder { get; }

    public StopStringMatcher Stops { get; }

    /// <summary>A copy of the model's logits before sampling changes them, when log-probabilities are asked for.</summary>
    public float[]? RawLogits { get; }

    public int PromptLength { get; }

    /// <summary>Prompt plus generated tokens.</summary>
    public int Count { get; private set; }

    public int Generated => Count - PromptLength;

    public int PendingCount => Count - Cache.Length;

    /// <summary>Prompt tokens found in the prefix cache when first admitted (-1 before admission).</summary>
    public int CachedPromptTokens { get; set; } = -1;

    /// <summary>Whether the request left the waiting queue's count (admitted once, or cancelled before).</summary>
    public bool Dequeued { get; set; }

    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, Count);

    /// <summary>The next <paramref name="count"/> pending tokens, without copying.</summary>
    public ReadOnlyMemory<int> Pending(int count) => _tokens.AsMemory(Cache.Length, count);

    public void Append(int id)
    {
        if (Count == _tokens.Length)
        {
            Array.Resize(ref _tokens, _tokens.Length * 2);
        }

        _tokens[Count++] = id;
    }
}
