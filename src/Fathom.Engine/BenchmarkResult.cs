namespace Fathom.Engine;

/// <summary>
/// Throughput of each repetition, in tokens per second (null for a test that was skipped), and for each
/// repetition the share of the machine's CPU that other processes took meanwhile (null where unknown),
/// so runs disturbed by other work on a shared machine can be told apart.
/// </summary>
public sealed record BenchmarkResult(
    BenchmarkSettings Settings,
    BenchmarkSeries? Prefill,
    BenchmarkSeries? Decode,
    IReadOnlyList<double?> PrefillOtherCpu,
    IReadOnlyList<double?> DecodeOtherCpu)
{
    /// <summary>Decode throughput (tokens/s over all sequences) at each batch size above 1.</summary>
    public IReadOnlyList<BenchmarkBatchDecode> BatchDecode { get; init; } = [];
}

/// <summary>Decode of <paramref name="Batch"/> sequences at once, one token each per forward pass.</summary>
public sealed record BenchmarkBatchDecode(int Batch, BenchmarkSeries TokensPerSecond);
