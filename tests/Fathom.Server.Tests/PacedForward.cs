using Fathom.Model;

namespace Fathom.Server.Tests;

/// <summary>
/// A forward pass that waits a fixed time before each step of the wrapped one, for tests that interrupt a
/// running generation: a few hundred tokens then take seconds, however fast the backend, so a test thread
/// delayed by a loaded machine (test assemblies run side by side on two cores) still finds the request running.
/// </summary>
internal sealed class PacedForward(IForwardPass inner, TimeSpan step) : IForwardPass
{
    public ModelConfig Config => inner.Config;

    public int VocabSize => inner.VocabSize;

    public int MaxChunkTokens => inner.MaxChunkTokens;

    public string Device => inner.Device;

    public int MaxCandidates => inner.MaxCandidates;

    public ISequenceCache CreateCache(int capacity) => inner.CreateCache(capacity);

    public IPagedKvPool CreatePagedPool(int pageCount, int pageSize) => inner.CreatePagedPool(pageCount, pageSize);

    public void Forward(ReadOnlySpan<int> tokens, ISequenceCache cache, Span<float> logits, LogitsSelection selection = LogitsSelection.Last)
    {
        Thread.Sleep(step);
        inner.Forward(tokens, cache, logits, selection);
    }

    public void Forward(ReadOnlySpan<BatchEntry> batch, Span<float> logits, LogitsSelection selection = LogitsSelection.Last)
    {
        Thread.Sleep(step);
        inner.Forward(batch, logits, selection);
    }

    public void Forward(ReadOnlySpan<BatchEntry> batch, LogitCandidates candidates, int k)
    {
        Thread.Sleep(step);
        inner.Forward(batch, candidates, k);
    }
}
