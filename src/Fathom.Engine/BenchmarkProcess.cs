using System.Diagnostics;

namespace Fathom.Engine;

/// <summary>What the kernel says about this process and the machine's load while a benchmark runs (Linux; nulls elsewhere).</summary>
public static class BenchmarkProcess
{
    /// <summary>Peak resident set size (VmHWM): weights read into memory, touched mapped pages, caches and scratch.</summary>
    public static long PeakResidentBytes() => StatusKilobytes("/proc/self/status", "VmHWM:") is { } kb ? kb * 1024 : Process.GetCurrentProcess().PeakWorkingSet64;

    /// <summary>Anonymous memory backed by transparent huge pages (whether MADV_HUGEPAGE took effect).</summary>
    public static long? AnonymousHugePageBytes() => StatusKilobytes("/proc/self/smaps_rollup", "AnonHugePages:") is { } kb ? kb * 1024 : null;

    /// <summary>The 1, 5 and 15-minute load averages ("0.52 1.10 2.03"): other work on the machine skews a benchmark.</summary>
    public static string? LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static long? StatusKilobytes(string path, string key)
    {
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }

            foreach (string line in File.ReadLines(path))
            {
                if (line.StartsWith(key, StringComparison.Ordinal)
                    && long.TryParse(line[key.Length..].Replace("kB", string.Empty, StringComparison.Ordinal).Trim(), out long kb))
                {
                    return kb;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }
}
