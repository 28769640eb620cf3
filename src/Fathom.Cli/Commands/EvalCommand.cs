using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Fathom.Engine;

namespace Fathom.Cli.Commands;

/// <summary>
/// `fathom eval`: perplexity of a model on a text and, against a reference model (e.g. the original of a
/// quantized checkpoint), how far its logits are from the reference's: cosine similarity, relative error,
/// top-1 agreement, KL divergence.
/// </summary>
public static class EvalCommand
{
    public static Command Create(CliConsole console)
    {
        var models = new ModelOptionSet(console);
        var reference = new Option<string?>("--reference") { Description = "Reference model folder to compare logits with (same tokenizer)." };
        var text = new Option<string>("--text") { Description = "UTF-8 text file to evaluate on.", Required = true };
        var window = new Option<int>("--window") { Description = "Tokens per window (capped by max_position_embeddings).", DefaultValueFactory = _ => 512 };
        var stride = new Option<int>("--stride") { Description = "Tokens between window starts.", DefaultValueFactory = _ => 256 };
        var json = new Option<bool>("--json") { Description = "Print the report as one JSON line." };
        var command = new Command("eval", "Perplexity, and accuracy against a reference model (cosine similarity, relative error, top-1 agreement, KL divergence).")
        {
            reference, text, window, stride, json,
        };
        models.AddTo(command);
        command.SetAction(result =>
        {
            string path = result.GetValue(text)!;
            if (!File.Exists(path))
            {
                throw new CliException($"--text: file '{path}' not found");
            }

            var options = models.Read(result);
            using var session = ModelSession.Open(options, needTokenizer: true);
            using var referenceSession = result.GetValue(reference) is { } r
                ? ModelSession.Open(options with { Model = r, Tokenizer = options.Tokenizer ?? session.Directory })
                : null;
            int[] ids = session.Tokenizer!.Encode(File.ReadAllText(path), addSpecialTokens: true);
            var bar = new ProgressLine(console);
            var score = AccuracyEvaluator.Evaluate(
                session.Transformer, referenceSession?.Transformer, ids, result.GetValue(window), result.GetValue(stride), new SynchronousProgress<(int Done, int Total)>(p => bar.Show("windows", p.Done, p.Total)));
            bar.End();
            var m = score.Model;
            var c = score.Comparison;
            if (result.GetValue(json))
            {
                object line = c is null
                    ? new { model = session.Directory, tokens = m.ScoredTokens, perplexity = m.Perplexity }
                    : new
                    {
                        model = session.Directory,
                        reference = referenceSession!.Directory,
                        tokens = m.ScoredTokens,
                        perplexity = m.Perplexity,
                        reference_perplexity = c.Reference.Perplexity,
                        perplexity_change = (m.Perplexity / c.Reference.Perplexity) - 1,
                        cosine_mean = c.MeanCosine,
                        cosine_worst = c.WorstCosine,
                        relative_error_mean = c.MeanRelativeError,
                        relative_error_worst = c.WorstRelativeError,
                        top1_agreement = c.TopOneAgreement,
                        kl_divergence = c.MeanKlDivergence,
                    };
                console.Out.WriteLine(JsonSerializer.Serialize(line, CliJson.Options));
                return 0;
            }

            var o = console.Out;
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"model                {session.Directory}"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"tokens scored        {m.ScoredTokens} ({m.Windows} windows of {result.GetValue(window)}, stride {result.GetValue(stride)})"));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"perplexity           {m.Perplexity:F4}"));
            if (c is not null)
            {
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reference            {referenceSession!.Directory}"));
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reference perplexity {c.Reference.Perplexity:F4} (model {((m.Perplexity / c.Reference.Perplexity) - 1) * 100:+0.00;-0.00}%)"));
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cosine similarity    mean {c.MeanCosine:F6}, worst {c.WorstCosine:F6} (position {c.WorstCosinePosition})"));
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"relative error       mean {c.MeanRelativeError:F6}, worst {c.WorstRelativeError:F6}"));
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"top-1 agreement      {c.TopOneAgreement * 100:F2}%"));
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"KL(reference‖model)  {c.MeanKlDivergence:F6} nats/token"));
            }

            return 0;
        });
        return command;
    }
}
