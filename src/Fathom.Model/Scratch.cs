using Fathom.Core;

namespace Fathom.Model;

internal enum Buffer
{
    Hidden,
    Normed,
    Residual,
    Query,
    QueryLatent,
    KvA,
    AttentionOut,
    HeadQuery,
    HeadLatent,
    Scores,
    HeadOut,
    Keys,
    ExpandedKv,
    Latents,
    GatheredKv,
    Gate,
    Up,
    RouterLogits,
    RouteWeights,
    ExpertInput,
    ExpertOutput,
    Cos,
    Sin,
    Count,
}

internal enum IntBuffer
{
    ExpertIds,
    ExpertCounts,
    ExpertOffsets,
    ExpertTokens,
    BatchTokens,
    Count,
}

/// <summary>
/// Pinned working buffers shared by every layer of one forward pass, grown on demand and reused, so a
/// decode step allocates nothing once the sizes have been seen.
/// </summary>
internal sealed class Scratch
{
    private readonly float[]?[] _buffers = new float[(int)Buffer.Count][];
    private readonly int[]?[] _ints = new int[(int)IntBuffer.Count][];

    public float[] Array(Buffer id, int length) => _buffers[(int)id] = PinnedBuffer.Ensure(_buffers[(int)id], length);

    public Span<float> Span(Buffer id, int length) => Array(id, length).AsSpan(0, length);

    public Span<int> Ints(IntBuffer id, int length)
    {
        ref var buffer = ref _ints[(int)id];
        if (buffer is null || buffer.Length < length)
        {
            buffer = new int[Math.Max(length, buffer is null ? 0 : buffer.Length * 2)];
        }

        return buffer.AsSpan(0, length);
    }
}
