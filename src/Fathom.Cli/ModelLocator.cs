using Fathom.Tokenizer;

namespace Fathom.Cli;

/// <summary>Finds the model folder (the bundled demo model when none is given) and its tokenizer.</summary>
public static class ModelLocator
{
    public const string BundledModel = "models/fathom-demo";

    public static string ResolveModel(string? model)
    {
        if (!string.IsNullOrEmpty(model))
        {
            if (!Directory.Exists(model))
            {
                throw new CliException($"model folder '{model}' does not exist");
            }

            return model;
        }

        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, BundledModel);
                if (File.Exists(Path.Combine(candidate, "config.json")))
                {
                    return candidate;
                }
            }
        }

        throw new CliException($"no --model given and the bundled model ({BundledModel}) was not found above {AppContext.BaseDirectory} or the current folder");
    }

    /// <summary>The tokenizer of --tokenizer, else of the model folder; null when neither has tokenizer.json.</summary>
    public static TextTokenizer? LoadTokenizer(string? tokenizer, string? modelDirectory)
    {
        if (!string.IsNullOrEmpty(tokenizer))
        {
            if (!File.Exists(Path.Combine(tokenizer, TextTokenizer.TokenizerFileName)))
            {
                throw new CliException($"tokenizer folder '{tokenizer}' has no {TextTokenizer.TokenizerFileName}");
            }

            return TextTokenizer.Load(tokenizer);
        }

        return modelDirectory is not null && File.Exists(Path.Combine(modelDirectory, TextTokenizer.TokenizerFileName))
            ? TextTokenizer.Load(modelDirectory)
            : null;
    }

    public static TextTokenizer RequireTokenizer(TextTokenizer? tokenizer, string modelDirectory, string alternative) =>
        tokenizer ?? throw new CliException(
            $"the model folder '{modelDirectory}' has no {TextTokenizer.TokenizerFileName}: pass --tokenizer DIR{alternative}");
}
