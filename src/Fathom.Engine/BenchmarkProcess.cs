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

    /// <summary>CPU time counters now, in clock ticks; null off Linux.</summary>
    public static BenchmarkCpuSample? SampleCpu()
    {
        try
        {
            if (!File.Exists("/proc/stat") || !File.Exists("/proc/self/stat"))
            {
                return null;
            }

            // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is already in user.
            long[] machine = [.. File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(long.Parse)];
            long idle = machine[3] + machine[4];
            long busy = machine.Sum() - idle;
            // Fields after the parenthesised command name: state is field 3, utime and stime are 14 and 15.
            string self = File.ReadAllText("/proc/self/stat");
            string[] fields = self[(self.LastIndexOf(')') + 2)..].Split(' ');
            long process = long.Parse(fields[11]) + long.Parse(fields[12]);
            return new BenchmarkCpuSample(busy, busy + idle, process);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// The share of the machine's CPU time (all cores) that other processes, or the hypervisor's steal,
    /// took between two samples: 0 on a quiet machine, 0.5 when they kept one of two cores busy.
    /// </summary>
    public static double? OtherCpuShare(BenchmarkCpuSample? before, BenchmarkCpuSample? after)
    {
        if (before is not { } a || after is not { } b || b.MachineTotal <= a.MachineTotal)
        {
            return null;
        }

        double others = (b.MachineBusy - a.MachineBusy) - (b.Process - a.Process);
        return Math.Clamp(others / (b.MachineTotal - a.MachineTotal), 0, 1);
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
