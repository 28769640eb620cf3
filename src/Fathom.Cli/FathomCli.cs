using System.CommandLine;
using Fathom.Cli.Commands;
using Fathom.Model;
using Fathom.Tokenizer;

namespace Fathom.Cli;

/// <summary>The `fathom` command: builds the command tree and turns failures into one clear line and an exit code.</summary>
public static class FathomCli
{
    public const int Failure = 1;

    public static int Run(string[] args, CliConsole console)
    {
        var root = new RootCommand("Fathom: run DeepSeek-family models (V3, R1, V2, V2-Lite, Moonlight) locally.")
        {
            GenerateCommand.Create(console),
            ChatCommand.Create(console),
            InfoCommand.Create(console),
            TokenizeCommand.Create(console),
            LogitsCommand.Create(console),
            PerplexityCommand.Create(console),
            EvalCommand.Create(console),
            QuantizeCommand.Create(console),
            CreateRandomCommand.Create(console),
            BenchCommand.Create(console),
            BenchMemoryCommand.Create(console),
            ServeCommand.Create(console),
            BenchServeCommand.Create(console),
        };

        var configuration = new InvocationConfiguration
        {
            Output = console.Out,
            Error = console.Error,
            EnableDefaultExceptionHandler = false,
        };

        try
        {
            return root.Parse(args).Invoke(configuration);
        }
        catch (Exception e) when (IsUserFacing(e))
        {
            console.Error.WriteLine($"error: {e.Message}");
            return Failure;
        }
    }

    private static bool IsUserFacing(Exception e) => e is CliException
        or ModelFormatException
        or TokenizerFormatException
        or ChatTemplateException
        or ArgumentException
        or FileNotFoundException
        or DirectoryNotFoundException
        or UnauthorizedAccessException
        or IOException
        or System.Text.Json.JsonException
        or InvalidOperationException
        or Fathom.Backends.Cuda.CudaException
        or NotSupportedException;
}
