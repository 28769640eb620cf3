using System.CommandLine;

namespace Fathom.Cli;

/// <summary>The values of the options every model command shares.</summary>
public sealed record ModelOptions(string? Model, string? Tokenizer, int Threads, string Backend);

/// <summary>The shared options, added to each command that loads a model.</summary>
public sealed class ModelOptionSet
{
    public Option<string?> Model { get; } = new("--model", "-m") { Description = $"Model folder (config.json + safetensors). Default: the bundled {ModelLocator.BundledModel}." };

    public Option<string?> Tokenizer { get; } = new("--tokenizer") { Description = "Folder with tokenizer.json (default: the model folder)." };

    public Option<int> Threads { get; } = new("--threads", "-t") { Description = "Worker threads (default: all cores).", DefaultValueFactory = _ => 0 };

    public Option<string> Backend { get; } = new("--backend") { Description = "cpu (vectorised, float32) or reference (plain loops, float64 accumulation).", DefaultValueFactory = _ => "cpu" };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Tokenizer);
        command.Options.Add(Threads);
        command.Options.Add(Backend);
    }

    public ModelOptions Read(ParseResult result) => new(
        result.GetValue(Model),
        result.GetValue(Tokenizer),
        result.GetValue(Threads) is var t && t >= 0 ? t : throw new CliException($"--threads must be ≥ 0 (got {t})"),
        result.GetValue(Backend) ?? "cpu");
}
