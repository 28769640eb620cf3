using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fathom.Engine;

/// <summary>The machine a benchmark ran on, as far as the numbers depend on it.</summary>
public sealed record BenchmarkMachine(
    string Cpu,
    int LogicalCores,
    IReadOnlyList<string> IsaFlags,
    int VectorBits,
    long MemoryBytes,
    string Os,
    string Runtime,
    string? TransparentHugePages)
{
    // The instruction-set extensions that matter to the matrix kernels, in /proc/cpuinfo's spelling.
    private static readonly string[] InterestingFlags =
    [
        "sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl", "avx512dq",
        "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx512vbmi", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve",
    ];

    public static BenchmarkMachine Describe()
    {
        string? cpuinfo = ReadText("/proc/cpuinfo");
        string cpu = Field(cpuinfo, "model name") ?? Field(cpuinfo, "Hardware") ?? RuntimeInformation.ProcessArchitecture.ToString();
        var flags = (Field(cpuinfo, "flags") ?? Field(cpuinfo, "Features") ?? string.Empty)
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .ToHashSet(StringComparer.Ordinal);
        long memory = MemTotal() ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        string? thp = ReadText("/sys/kernel/mm/transparent_hugepage/enabled") is { } t && t.IndexOf('[', StringComparison.Ordinal) is int open and >= 0
            ? t[(open + 1)..t.IndexOf(']', open)]
            : null;
        return new BenchmarkMachine(
            cpu,
            Environment.ProcessorCount,
            [.. InterestingFlags.Where(flags.Contains)],
            Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128,
            memory,
            RuntimeInformation.OSDescription,
            RuntimeInformation.FrameworkDescription,
            thp);
    }

    private static long? MemTotal()
    {
        string? line = ReadText("/proc/meminfo")?.Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        return line is not null && long.TryParse(line["MemTotal:".Length..].Replace("kB", string.Empty, StringComparison.Ordinal).Trim(), out long kb) ? kb * 1024 : null;
    }

    private static string? Field(string? text, string name)
    {
        foreach (string line in (text ?? string.Empty).Split('\n'))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Trim() == name)
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }

    private static string? ReadText(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
