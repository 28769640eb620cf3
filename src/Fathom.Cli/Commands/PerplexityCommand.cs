using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Fathom.Engine;

namespace Fathom.Cli.Commands;

/// <summary>`fathom perplexity`: sliding-window perplexity of a text file ([BOS] + the text's tokens).</summary>
public static class PerplexityCommand
{
    public static Command Create(CliConsole console)
    {
        var models = new ModelOptionSet(console);
        var text = new Option<string>("--text") { Description = "UTF-8 text file to score.", Required = true };
        var window = new Option<int>("--window") { Description = "Tokens per window (capped by max_position_embeddings).", DefaultValueFactory = _ => 512 };
        var stride = new Option<int>("--stride") { Description = "Tokens between window starts.", DefaultValueFactory = _ => 256 };
        var json = new Option<bool>("--json") { Description = "Print {\"tokens\":...,\"perplexity\":...} as one JSON line." };
        var command = new Command("perplexity", "Measure perplexity on a text file with a sliding window.") { text, window, stride, json };
        models.AddTo(command);
        command.SetAction(result =>
        {
            string path = result.GetValue(text)!;
            if (!File.Exists(path))
            {
                throw new CliException($"--text: file '{path}' not found");
            }

            using var session = ModelSession.Open(models.Read(result), needTokenizer: true);
            int[] ids = session.Tokenizer!.Encode(File.ReadAllText(path), addSpecialTokens: true);
            var progress = console.Interactive ? new Progress<(int Done, int Total)>(p => console.Error.Write($"\rwindow {p.Done}/{p.Total}")) : null;
            var score = PerplexityEvaluator.Evaluate(session.Transformer, ids, result.GetValue(window), result.GetValue(stride), progress);
            if (progress is not null)
            {
                console.Error.WriteLine();
            }

            if (result.GetValue(json))
            {
                console.Out.WriteLine(JsonSerializer.Serialize(new { tokens = score.ScoredTokens, perplexity = score.Perplexity, windows = score.Windows }, CliJson.Options));
            }
            else
            {
                console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"tokens {score.ScoredTokens}  windows {score.Windows}  perplexity {score.Perplexity:F4}"));
            }

            return 0;
        });
        return command;
    }
}
