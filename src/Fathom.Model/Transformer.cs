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
public sealed class Transformer
{
    private readonly LoadedModel _model;
    private readonly IBackend _backend;
    private readonly DecoderLayer[] _layers;
    private readonly YarnRope _rope;
    private readonly Scratch _scratch = new();
    private readonly float _eps;

    public Transformer(LoadedModel model, IBackend backend, int maxChunkTokens = 256)
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

    /// <summary>A cache for one sequence of up to <paramref name="capacity"/> tokens.</summary>
    public KvCache CreateCache(int capacity) => new(_model.Config, capacity);

    /// <summary>
    /// Runs <paramref name="tokens"/> at positions cache.Length… , appends them to the cache, and writes
    /// logits: [vocab] for <see cref="LogitsSelection.Last"/>, [tokens, vocab] for <see cref="LogitsSelection.All"/>.
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, LogitsSelection selection = LogitsSelection.Last, MlaMode mode = MlaMode.Auto)
    {
        int vocab = VocabSize;
        if (tokens.Length == 0)
        {
            throw new ArgumentException("nothing to run: no tokens", nameof(tokens));
        }

        long needed = selection == LogitsSelection.All ? (long)tokens.Length * vocab : vocab;
        if (logits.Length < needed)
        {
            throw new ArgumentException($"logits buffer holds {logits.Length} values, {needed} needed", nameof(logits));
        }

        if (cache.Length + tokens.Length > cache.Capacity)
        {
            throw new ArgumentException($"the sequence would grow to {cache.Length + tokens.Length} tokens, beyond the cache's {cache.Capacity}");
        }

        foreach (int id in tokens)
        {
            if ((uint)id >= (uint)vocab)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {id} is outside the vocabulary [0, {vocab})");
            }
        }

        for (int done = 0; done < tokens.Length; done += MaxChunkTokens)
        {
            int n = Math.Min(MaxChunkTokens, tokens.Length - done);
            bool last = done + n == tokens.Length;
            var chunkLogits = selection == LogitsSelection.All
                ? logits.Slice(done * vocab, n * vocab)
                : last ? logits[..vocab] : default;
            RunChunk(tokens.Slice(done, n), cache, chunkLogits, selection == LogitsSelection.All, mode);
        }
    }

    private void RunChunk(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits, bool allRows, MlaMode mode)
    {
        var c = _model.Config;
        int n = tokens.Length, hiddenSize = c.HiddenSize, pairs = c.QkRopeHeadDim / 2;
        var hidden = _scratch.Span(Buffer.Hidden, n * hiddenSize);
        _backend.Embedding(_model.Weights.Embed, tokens, hidden);

        var cos = _scratch.Span(Buffer.Cos, n * pairs);
        var sin = _scratch.Span(Buffer.Sin, n * pairs);
        for (int i = 0; i < n; i++)
        {
            _rope.Fill(cache.Length + i, cos.Slice(i * pairs, pairs), sin.Slice(i * pairs, pairs));
        }

        foreach (var layer in _layers)
        {
            layer.Forward(hidden, n, cache, cos, sin, mode, _scratch);
        }

        cache.Advance(n);
        if (logits.IsEmpty)
        {
            return;
        }

        int first = allRows ? 0 : n - 1;
        int rows = n - first;
        var normed = _scratch.Span(Buffer.Normed, rows * hiddenSize);
        _backend.RmsNorm(hidden[(first * hiddenSize)..], _model.Weights.FinalNorm, _eps, normed);
        _backend.MatMul(_model.Weights.LmHead, normed, logits, rows);
    }
}
