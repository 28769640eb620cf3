namespace Fathom.Model;

/// <summary>
/// The model-level contract the engine drives: token ids in, logits out, attention state in caches the
/// pass creates. <see cref="Transformer"/> implements it over an <c>IBackend</c> on host memory; a GPU
/// backend implements it with device-resident weights, activations and caches. One caller at a time.
/// </summary>
public interface IForwardPass
{
    ModelConfig Config { get; }

    int VocabSize { get; }

    /// <summary>Most tokens one batched pass takes (all sequences together).</summary>
    int MaxChunkTokens { get; }

    /// <summary>Where the pass runs, for reports: "cpu", "cuda:0 (NVIDIA H100 80GB HBM3)".</summary>
    string Device { get; }

    /// <summary>A cache for one sequence of up to <paramref name="capacity"/> tokens.</summary>
    ISequenceCache CreateCache(int capacity);

    /// <summary>
    /// Storage of <paramref name="pageCount"/> pages of <paramref name="pageSize"/> tokens whose page
    /// tables a caller keeps (a serving engine's paged cache); sequences over it run in <see cref="Forward(ReadOnlySpan{BatchEntry}, Span{float}, LogitsSelection)"/>.
    /// Throws <see cref="ArgumentException"/> when the pass cannot hold that many pages of that size.
    /// </summary>
    IPagedKvPool CreatePagedPool(int pageCount, int pageSize);

    /// <summary>
    /// Runs <paramref name="tokens"/> at positions cache.Length… , appends them to the cache, and writes
    /// logits: [vocab] for <see cref="LogitsSelection.Last"/>, [tokens, vocab] for <see cref="LogitsSelection.All"/>.
    /// </summary>
    void Forward(ReadOnlySpan<int> tokens, ISequenceCache cache, Span<float> logits, LogitsSelection selection = LogitsSelection.Last);

    /// <summary>
    /// One pass over several sequences (distinct caches, at most <see cref="MaxChunkTokens"/> tokens in
    /// all): one logits row per sequence for <see cref="LogitsSelection.Last"/>, every position in order
    /// for <see cref="LogitsSelection.All"/>.
    /// </summary>
    void Forward(ReadOnlySpan<BatchEntry> batch, Span<float> logits, LogitsSelection selection = LogitsSelection.Last);

    /// <summary>
    /// The most candidates per row <see cref="Forward(ReadOnlySpan{BatchEntry}, LogitCandidates, int)"/>
    /// returns; 0 when the pass only returns whole logits rows (a host pass has them in memory anyway).
    /// </summary>
    int MaxCandidates => 0;

    /// <summary>
    /// As <see cref="Forward(ReadOnlySpan{BatchEntry}, Span{float}, LogitsSelection)"/> with one row per
    /// sequence, but returns only each row's <paramref name="k"/> largest logits and its log-sum-exp.
    /// </summary>
    void Forward(ReadOnlySpan<BatchEntry> batch, LogitCandidates candidates, int k) =>
        throw new NotSupportedException($"the pass on {Device} returns whole logits rows only (MaxCandidates is 0)");
}
