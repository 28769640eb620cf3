using System.Text.Json;
using Fathom.Cli;

namespace Fathom.Server.Tests;

/// <summary>What `fathom generate --json` answers, run in-process: the reference a served answer must equal.</summary>
internal static class Generate
{
    public static (int[] Ids, string Text) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = FathomCli.Run(["generate", .. args, "--json"], new CliConsole(new StringReader(string.Empty), output, error, Interactive: false));
        if (code != 0)
        {
            throw new InvalidOperationException($"fathom generate failed: {error}");
        }

        using var doc = JsonDocument.Parse(output.ToString());
        return (
            [.. doc.RootElement.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32())],
            doc.RootElement.GetProperty("text").GetString()!);
    }
}
