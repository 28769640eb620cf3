using System.Diagnostics;
using Fathom.Model;
using Fathom.Tokenizer;

namespace Fathom.Engine;

/// <summary>
/// Turns a prompt into tokens and text for one sequence: prefill, then one forward pass per token,
/// sampling, streaming detokenisation and stop conditions. The decode loop reuses its buffers.
/// </summary>
public sealed class Generator
{
    private readonly IForwardPass _transformer;
    private readonly TextTokenizer? _tokenizer;
    private readonly HashSet<int> _eosIds;
    private readonly float[] _logits;
    private readonly LogitCandidates? _candidates;
    private readonly int[] _next = new int[1];

    public Generator(IForwardPass transformer, TextTokenizer? tokenizer)
    {
        _transformer = transformer;
        _tokenizer = tokenizer;
        _eosIds = [.. transformer.Config.EosTokenIds];
        if (tokenizer?.EosId is int eos)
        {
            _eosIds.Add(eos);
        }

        _logits = new float[transformer.VocabSize];
        _candidates = transformer.MaxCandidates > 0 ? new LogitCandidates(1, transformer.MaxCandidates) : null;
    }

    public IForwardPass Transformer => _transformer;

    public TextTokenizer? Tokenizer => _tokenizer;

    /// <summary>Token ids that end generation unless told to ignore them.</summary>
    public IReadOnlySet<int> EosIds => _eosIds;

    /// <summary>A session whose cache holds up to <paramref name="maxContext"/> tokens (capped by the model's max_position_embeddings).</summary>
    public Session CreateSession(int maxContext)
    {
        int capacity = Math.Min(maxContext, _transformer.Config.MaxPositionEmbeddings);
        return new Session(_transformer.CreateCache(capacity));
    }

    public GenerationResult Generate(
        Session session,
        IReadOnlyList<int> prompt,
        SamplingParams sampling,
        StopConditions stop,
        Action<TokenEvent>? onToken = null,
        CancellationToken cancellation = default)
    {
        sampling.Validate();
        stop.Validate();
        if (prompt.Count == 0)
        {
            throw new ArgumentException("the prompt is empty: at least one token is needed", nameof(prompt));
        }

        if (prompt.Count >= session.Capacity)
        {
            throw new ArgumentException($"the prompt has {prompt.Count} tokens but the context holds {session.Capacity}; shorten it or raise the context size", nameof(prompt));
        }

        int vocab = _transformer.VocabSize;
        foreach (int id in prompt)
        {
            if ((uint)id >= (uint)vocab)
            {
                throw new ArgumentException($"prompt token id {id} is outside the vocabulary [0, {vocab})", nameof(prompt));
            }
        }

        var sampler = new Sampler(sampling, vocab);
        sampler.AddPrompt(prompt is int[] array ? array : [.. prompt]);

        // Reuse the cached prefix, but always run at least the last prompt token to get its logits.
        int reused = CommonPrefix(session.Tokens, prompt);
        reused = Math.Min(reused, prompt.Count - 1);
        session.Truncate(reused);

        long start = Stopwatch.GetTimestamp();
        int[] fresh = [.. prompt.Skip(reused)];
        // Only the candidates the sampler needs come back when the pass can select them (a GPU pass).
        int k = sampler.CandidatesNeeded;
        k = _candidates is not null && k > 0 && k <= _transformer.MaxCandidates ? k : 0;
        bool fromCandidates = Run(fresh, session.Cache, k);
        session.Append(fresh);
        var prefillTime = Stopwatch.GetElapsedTime(start);

        var decoder = _tokenizer?.CreateStreamingDecoder(skipSpecialTokens: true);
        var stops = new StopStringMatcher(stop.StopStrings);
        var output = new List<int>(Math.Min(stop.MaxTokens, 4096));
        var text = new System.Text.StringBuilder();
        var finish = FinishReason.Length;
        long decodeStart = Stopwatch.GetTimestamp();
        while (true)
        {
            int next = fromCandidates ? sampler.Sample(_candidates!.Values(0), _candidates.Ids(0)) : sampler.Sample(_logits);
            sampler.Accept(next);
            output.Add(next);

            bool isEos = !stop.IgnoreEos && _eosIds.Contains(next);
            bool isStopToken = stop.StopTokenIds.Contains(next);
            string piece = decoder is null || isEos || isStopToken ? string.Empty : stops.Push(decoder.Push(next));
            text.Append(piece);
            onToken?.Invoke(new TokenEvent(next, piece, output.Count - 1));

            if (isEos || isStopToken || stops.Stopped)
            {
                finish = FinishReason.Stop;
                break;
            }

            if (output.Count >= stop.MaxTokens || session.Tokens.Count >= session.Capacity)
            {
                break;
            }

            if (cancellation.IsCancellationRequested)
            {
                finish = FinishReason.Cancelled;
                break;
            }

            _next[0] = next;
            fromCandidates = Run(_next, session.Cache, k);
            session.Append(new ReadOnlySpan<int>(ref next));
        }

        if (finish != FinishReason.Stop && decoder is not null)
        {
            string rest = stops.Push(decoder.Flush()) + stops.Flush();
            if (rest.Length > 0)
            {
                text.Append(rest);
                onToken?.Invoke(new TokenEvent(-1, rest, output.Count));
            }
        }

        return new GenerationResult(
            output,
            text.ToString(),
            finish,
            prompt.Count,
            reused,
            prefillTime,
            Stopwatch.GetElapsedTime(decodeStart),
            sampler.Seed);
    }

    /// <summary>
    /// One pass over <paramref name="tokens"/>: its <paramref name="k"/> best candidates when k &gt; 0 and the
    /// tokens fit one batched pass (true), else the whole last logits row (false).
    /// </summary>
    private bool Run(int[] tokens, ISequenceCache cache, int k)
    {
        if (k > 0 && tokens.Length <= _transformer.MaxChunkTokens)
        {
            _transformer.Forward([new BatchEntry(tokens, cache)], _candidates!, k);
            return true;
        }

        _transformer.Forward(tokens, cache, _logits);
        return false;
    }

    private static int CommonPrefix(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        int n = Math.Min(a.Count, b.Count), i = 0;
        while (i < n && a[i] == b[i])
        {
            i++;
        }

        return i;
    }
}
