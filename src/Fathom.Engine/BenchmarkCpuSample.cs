namespace Fathom.Engine;

/// <summary>Cumulative CPU clock ticks: the machine busy (steal included) and in total, and this process.</summary>
public readonly record struct BenchmarkCpuSample(long MachineBusy, long MachineTotal, long Process);
