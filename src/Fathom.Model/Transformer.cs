using Fathom.Core;

namespace Fathom.Model;

/// <summary>Which positions of a forward pass produce logits.</summary>
public enum LogitsSelection
{
    /// <summary>Only the last position (generation).</summary>
    Last,

    /// <summary>Every position (scoring, golden comparisons).</summary>
    All,
}

/// <summary>
/// The DeepSeek forward pass of one sequence over a backend: embed, the decoder layers, final norm, LM
/// head. Long inputs are processed in chunks so working memory stays bounded. One caller at a time.
/// </summary>
public sealed class Transformer : IForwardPass
{
    private readonly LoadedModel _model;
    private readonly IBackend _backend;
    private readonly DecoderLayer[] _layers;
    private readonly YarnRope _rope;
    private readonly Scratch _scratch = new();
    private readonly BatchLayout _layout = new();
    private readonly float _eps;

    public Transformer(LoadedModel model, IBackend backend, int maxChunkTokens = 512)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChunkTokens, 1);
        _model = model;
        _backend = backend;
        MaxChunkTokens = maxChunkTokens;
        var c = model.Config;
        _layers = [.. model.Weights.Layers.Select((w, i) => new DecoderLayer(c, i, w, backend))];
        _rope = new YarnRope(c);
        _eps = (float)c.RmsNormEps;
    }

    public ModelConfig Config => _model.Config;

    public IBackend Backend => _backend;

    public int MaxChunkTokens { get; }

    public int VocabSize => _model.Config.VocabSize;

    public string Device => "cpu";

    /// <summary>A cache for one sequence of up to <paramref name="capacity"/> tokens.</summary>
    public KvCache CreateCache(int capacity) => new(_model.Config, capacity);

    ISequenceCache IForwardPass.CreateCache(int capacity) => CreateCache(capacity);

    public IPagedKvPool CreatePagedPool(int pageCount, int pageSize) => new PagedKvStorage(_model.Config, pageCount, pageSize);

    void IForwardPass.Forward(ReadOnlySpan<int> tokens, ISequenceCache cache, Span<float> logits, LogitsSelection selection) =>
        Forward(tokens, Own(cache), logits, selection);

    void IForwardPass.Forward(ReadOnlySpan<BatchEntry> batch, Span<float> logits, LogitsSelection selection) =>
        Forward(batch, logits, selection);

    private static IKvCache Own(ISequenceCache cache) => cache as IKvCache
        ?? throw new ArgumentException($"a {cache.GetType().Name} belongs to another forward pass; this one runs on host caches", nameof(cache));

    /// <summary>
    /// Runs <paramref name="tokens"/> at positions cache.Length… , appends them to the cache, and writes
    /// logits: [vocab] for <see cref="LogitsSelection.Last"/>, [tokens, vocab] for <see cref="LogitsSelection.All"/>.
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, IKvCache cache, Span<float> logits, LogitsSelection selection = LogitsSelection.Last, MlaMode mode = MlaMode.Auto)
    {
        Validate(tokens, cache);
        CheckLogits(logits, selection == LogitsSelection.All ? tokens.Length : 1);
        int vocab = VocabSize;
        for (int done = 0; done < tokens.Length; done += MaxChunkTokens)
        {
            int n = Math.Min(MaxChunkTokens, tokens.Length - done);
            bool last = done + n == tokens.Length;
            var chunkLogits = selection == LogitsSelection.All
                ? logits.Slice(done * vocab, n * vocab)
                : last ? logits[..vocab] : default;
            _layout.Clear();
            _layout.Add(n, cache);
            RunBatch(tokens.Slice(done, n), chunkLogits, selection == LogitsSelection.All, mode);
        }
    }

    /// <summary>
    /// One forward pass over several sequences at once: every weight is read once for all their rows,
    /// and each sequence attends over its own cache. Logits: one row per sequence (its last position)
    /// for <see cref="LogitsSelection.Last"/>, or every position of every sequence, in order, for
    /// <see cref="LogitsSelection.All"/>. The caches must be distinct; together the sequences may hold
    /// at most <see cref="MaxChunkTokens"/> tokens.
    /// </summary>
    public void Forward(ReadOnlySpan<BatchEntry> batch, Span<float> logits, LogitsSelection selection = LogitsSelection.Last, MlaMode mode = MlaMode.Auto)
    {
        if (batch.IsEmpty)
        {
            throw new ArgumentException("the batch is empty", nameof(batch));
        }

        int total = 0;
        for (int s = 0; s < batch.Length; s++)
        {
            Validate(batch[s].Tokens.Span, Own(batch[s].Cache));
            for (int t = 0; t < s; t++)
            {
                if (ReferenceEquals(batch[t].Cache, batch[s].Cache))
                {
                    throw new ArgumentException($"sequences {t} and {s} of the batch share one cache", nameof(batch));
                }
            }

            total += batch[s].Tokens.Length;
        }

        if (total > MaxChunkTokens)
        {
            throw new ArgumentException($"the batch holds {total} tokens, more than the {MaxChunkTokens} one pass takes; split it", nameof(batch));
        }

        CheckLogits(logits, selection == LogitsSelection.All ? total : batch.Length);
        var ids = _scratch.Ints(IntBuffer.BatchTokens, total);
        _layout.Clear();
        for (int s = 0; s < batch.Length; s++)
        {
            batch[s].Tokens.Span.CopyTo(ids[_layout.TotalRows..]);
            _layout.Add(batch[s].Tokens.Length, Own(batch[s].Cache));
        }

        RunBatch(ids, logits, selection == LogitsSelection.All, mode);
    }

    private void Validate(ReadOnlySpan<int> tokens, IKvCache cache) => ForwardArguments.CheckTokens(tokens, cache, VocabSize);

    private void CheckLogits(Span<float> logits, int rows) => ForwardArguments.CheckLogits(logits, rows, VocabSize);

    private void RunBatch(ReadOnlySpan<int> tokens, Span<float> logits, bool allRows, MlaMode mode)
    {
        var c = _model.Config;
        int n = tokens.Length, hiddenSize = c.HiddenSize, pairs = c.QkRopeHeadDim / 2;
        var hidden = _scratch.Span(Buffer.Hidden, n * hiddenSize);
        _backend.Embedding(_model.Weights.Embed, tokens, hidden);

        var cos = _scratch.Span(Buffer.Cos, n * pairs);
        var sin = _scratch.Span(Buffer.Sin, n * pairs);
        for (int s = 0; s < _layout.Count; s++)
        {
            int first = _layout.RowStart[s], start = _layout.Caches[s].Length;
            for (int i = 0; i < _layout.RowCount[s]; i++)
            {
                _rope.Fill(start + i, cos.Slice((first + i) * pairs, pairs), sin.Slice((first + i) * pairs, pairs));
            }
        }

        foreach (var layer in _layers)
        {
            layer.Forward(hidden, _layout, cos, sin, mode, _scratch);
        }

        for (int s = 0; s < _layout.Count; s++)
        {
            _layout.Caches[s].Advance(_layout.RowCount[s]);
        }

        if (logits.IsEmpty)
        {
            return;
        }

        // The final norm and the head run on the rows that need logits, gathered contiguously.
        int rows = allRows ? n : _layout.Count;
        var normed = _scratch.Span(Buffer.Normed, rows * hiddenSize);
        if (allRows)
        {
            _backend.RmsNorm(hidden, _model.Weights.FinalNorm, _eps, normed);
        }
        else
        {
            for (int s = 0; s < _layout.Count; s++)
            {
                int last = _layout.RowStart[s] + _layout.RowCount[s] - 1;
                _backend.RmsNorm(hidden.Slice(last * hiddenSize, hiddenSize), _model.Weights.FinalNorm, _eps, normed.Slice(s * hiddenSize, hiddenSize));
            }
        }

        _backend.MatMul(_model.Weights.LmHead, normed, logits, rows);
        _layout.Clear();
    }
}

/// <summary>One sequence of a batched forward pass: its new tokens and its cache.</summary>
public readonly record struct BatchEntry(ReadOnlyMemory<int> Tokens, ISequenceCache Cache);
