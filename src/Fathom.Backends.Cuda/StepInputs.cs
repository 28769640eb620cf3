namespace Fathom.Backends.Cuda;

/// <summary>
/// Where the per-pass inputs lie in the staging buffers (pinned host and device, same layout) for a pass
/// of <paramref name="Tokens"/> tokens: ids, table slot and visible length per token, cache row per
/// token, cos/sin per token, rows that produce logits, the attention chunk. One copy moves them all.
/// </summary>
internal readonly record struct StepInputs(int Tokens, int Pairs)
{
    public long Ids => 0;

    public long Seq => Align(Ids + (4L * Tokens));

    public long Len => Align(Seq + (4L * Tokens));

    public long Slots => Align(Len + (4L * Tokens));

    public long Cos => Align(Slots + (8L * Tokens));

    public long Sin => Align(Cos + (4L * Tokens * Pairs));

    public long Rows => Align(Sin + (4L * Tokens * Pairs));

    public long Chunk => Align(Rows + (4L * Tokens));

    public long Bytes => Align(Chunk + 4);

    private static long Align(long offset) => (offset + 255) & ~255L;
}
