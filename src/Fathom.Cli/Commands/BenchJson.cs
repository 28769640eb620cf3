using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fathom.Engine;

namespace Fathom.Cli.Commands;

/// <summary>The parts of `fathom bench` and `fathom bench-memory` reports they share, and how reports are written.</summary>
internal static class BenchJson
{
    // Relaxed escaping keeps the '+' of a version's commit suffix (and any non-ASCII CPU name) readable.
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static JsonObject Machine(BenchmarkMachine m) => new()
    {
        ["cpu"] = m.Cpu,
        ["logical_cores"] = m.LogicalCores,
        ["isa_flags"] = new JsonArray([.. m.IsaFlags.Select(f => (JsonNode?)f)]),
        ["vector_bits"] = m.VectorBits,
        ["memory_bytes"] = m.MemoryBytes,
        ["os"] = m.Os,
        ["runtime"] = m.Runtime,
        ["transparent_hugepages"] = m.TransparentHugePages,
    };

    /// <summary>The build that measured: informational version, with the commit when the SDK knew it.</summary>
    public static string Version() =>
        typeof(BenchJson).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public static JsonArray Array(IEnumerable<double> values) => new([.. values.Select(v => (JsonNode?)Math.Round(v, 3))]);

    /// <summary>Per-repetition shares of the CPU taken by other processes (null where unknown).</summary>
    public static JsonArray Shares(IEnumerable<double?> values) => new([.. values.Select(v => v is { } x ? (JsonNode?)Math.Round(x, 3) : null)]);

    /// <summary>One line on stdout for --json; the indented form to --output.</summary>
    public static void Emit(JsonObject report, bool json, string? output, CliConsole console)
    {
        if (json)
        {
            console.Out.WriteLine(report.ToJsonString(Compact));
        }

        if (!string.IsNullOrEmpty(output))
        {
            string? folder = Path.GetDirectoryName(Path.GetFullPath(output));
            if (folder is not null)
            {
                Directory.CreateDirectory(folder);
            }

            File.WriteAllText(output, report.ToJsonString(Pretty) + "\n");
            console.Error.WriteLine($"wrote {output}");
        }
    }
}
