namespace Fathom.Model;

/// <summary>What <see cref="RandomCheckpointWriter.Write"/> produced.</summary>
public sealed record RandomCheckpointResult(
    string Directory,
    string ConfigPath,
    IReadOnlyList<string> Files,
    long Bytes,
    long Parameters,
    int Tensors,
    TimeSpan Elapsed)
{
    /// <summary>Tensor bytes per second of wall time.</summary>
    public double BytesPerSecond => Bytes / Math.Max(Elapsed.TotalSeconds, 1e-9);
}
