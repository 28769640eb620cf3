using Fathom.Cli;

namespace Fathom.Cli.Tests;

/// <summary>Runs `fathom` in-process with captured streams.</summary>
public sealed record CliRun(int ExitCode, string Out, string Error)
{
    public static CliRun WithInput(string stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = FathomCli.Run(args, new CliConsole(new StringReader(stdin), output, error, Interactive: false));
        return new CliRun(code, output.ToString(), error.ToString());
    }

    public static CliRun Invoke(params string[] args) => WithInput(string.Empty, args);
}
