namespace Fathom.Engine;

/// <summary>Throughput of each repetition, in tokens per second; null for a test that was skipped.</summary>
public sealed record BenchmarkResult(BenchmarkSettings Settings, BenchmarkSeries? Prefill, BenchmarkSeries? Decode);
