using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Fathom.Engine;

namespace Fathom.Cli.Commands;

/// <summary>`fathom bench-memory`: the machine's memory bandwidth, the floor of bandwidth-bound decoding.</summary>
public static class BenchMemoryCommand
{
    public static Command Create(CliConsole console)
    {
        var threads = new Option<int>("--threads", "-t") { Description = "Threads (default: all cores).", DefaultValueFactory = _ => 0 };
        var size = new Option<int>("--size-mib") { Description = "Size of each of the three arrays in MiB.", DefaultValueFactory = _ => 1024 };
        var repetitions = new Option<int>("--repetitions", "-r") { Description = "Repetitions of the triad and read tests.", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON line." };
        var output = new Option<string?>("--output", "-o") { Description = "Also write the result as indented JSON to this file." };
        var command = new Command("bench-memory", "Measure memory bandwidth STREAM-style (triad and read-only over three arrays).")
        {
            threads, size, repetitions, json, output,
        };
        command.SetAction(result =>
        {
            int t = result.GetValue(threads) is > 0 and var n ? n : Environment.ProcessorCount;
            int mib = result.GetValue(size);
            if (mib < 1)
            {
                throw new CliException($"--size-mib must be at least 1 (got {mib})");
            }

            string? loadBefore = BenchmarkProcess.LoadAverage();
            var bandwidth = BenchmarkMemoryBandwidth.Measure(t, (long)mib << 20, result.GetValue(repetitions), line => console.Error.WriteLine(line));
            var report = new JsonObject
            {
                ["benchmark"] = "fathom bench-memory",
                ["timestamp"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
                ["threads"] = bandwidth.Threads,
                ["array_bytes"] = bandwidth.ArrayBytes,
                ["repetitions"] = bandwidth.Triad.Values.Count,
                ["triad_bytes_per_s"] = Math.Round(bandwidth.Triad.Median),
                ["triad_bytes_per_s_min"] = Math.Round(bandwidth.Triad.Min),
                ["triad_bytes_per_s_max"] = Math.Round(bandwidth.Triad.Max),
                ["read_bytes_per_s"] = Math.Round(bandwidth.Read.Median),
                ["read_bytes_per_s_min"] = Math.Round(bandwidth.Read.Min),
                ["read_bytes_per_s_max"] = Math.Round(bandwidth.Read.Max),
                ["triad_bytes_per_s_runs"] = BenchJson.Array(bandwidth.Triad.Values),
                ["read_bytes_per_s_runs"] = BenchJson.Array(bandwidth.Read.Values),
                ["triad_other_cpu_runs"] = BenchJson.Shares(bandwidth.TriadOtherCpu),
                ["read_other_cpu_runs"] = BenchJson.Shares(bandwidth.ReadOtherCpu),
                ["load_average_start"] = loadBefore,
                ["load_average_end"] = BenchmarkProcess.LoadAverage(),
                ["fathom_version"] = BenchJson.Version(),
                ["machine"] = BenchJson.Machine(BenchmarkMachine.Describe()),
            };
            if (!result.GetValue(json))
            {
                console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"memory bandwidth, {t} threads, 3 x {bandwidth.ArrayBytes / (double)(1 << 20):F0} MiB:"));
                console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  triad  {bandwidth.Triad.Median / 1e9:F1} GB/s median (min {bandwidth.Triad.Min / 1e9:F1}, max {bandwidth.Triad.Max / 1e9:F1})"));
                console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  read   {bandwidth.Read.Median / 1e9:F1} GB/s median (min {bandwidth.Read.Min / 1e9:F1}, max {bandwidth.Read.Max / 1e9:F1})"));
                console.Out.WriteLine($"  load average {loadBefore} -> {BenchmarkProcess.LoadAverage()}");
            }

            BenchJson.Emit(report, result.GetValue(json), result.GetValue(output), console);
            return 0;
        });
        return command;
    }
}
