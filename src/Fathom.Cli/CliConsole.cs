namespace Fathom.Cli;

/// <summary>The streams a command talks to; tests pass their own.</summary>
public sealed record CliConsole(TextReader In, TextWriter Out, TextWriter Error, bool Interactive)
{
    public static CliConsole Standard()
    {
        var output = new StreamWriter(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false)) { AutoFlush = true };
        var error = new StreamWriter(Console.OpenStandardError(), new System.Text.UTF8Encoding(false)) { AutoFlush = true };
        var input = new StreamReader(Console.OpenStandardInput(), new System.Text.UTF8Encoding(false));
        return new CliConsole(input, output, error, !Console.IsErrorRedirected);
    }
}

/// <summary>A user mistake on the command line, reported as one line without a stack trace.</summary>
public sealed class CliException(string message) : Exception(message);
