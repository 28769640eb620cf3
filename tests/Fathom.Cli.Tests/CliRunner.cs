using Fathom.Cli;

namespace Fathom.Cli.Tests;

/// <summary>Runs `fathom` in-process with captured streams.</summary>
public sealed record CliRun(int ExitCode, string Out, string Error)
{
    public static CliRun WithInput(string stdin, params string[] args) => Run(stdin, interactive: false, args);

    /// <summary>As if on a terminal: progress lines are drawn on the error stream.</summary>
    public static CliRun Interactive(params string[] args) => Run(string.Empty, interactive: true, args);

    private static CliRun Run(string stdin, bool interactive, string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = FathomCli.Run(args, new CliConsole(new StringReader(stdin), output, error, interactive));
        return new CliRun(code, output.ToString(), error.ToString());
    }

    public static CliRun Invoke(params string[] args) => WithInput(string.Empty, args);
}
