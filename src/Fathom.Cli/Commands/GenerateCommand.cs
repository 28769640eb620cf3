using System.CommandLine;
using System.Text.Json;
using Fathom.Engine;

namespace Fathom.Cli.Commands;

/// <summary>`fathom generate`: streams a continuation of a prompt (text or token ids).</summary>
public static class GenerateCommand
{
    public static Command Create(CliConsole console)
    {
        var models = new ModelOptionSet(console);
        var sampling = new SamplingOptionSet();
        var prompt = new Argument<string?>("prompt") { Description = "Prompt text (BOS is added as the tokenizer config says).", Arity = ArgumentArity.ZeroOrOne };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as a JSON array of token ids, e.g. \"[1,2,3]\" (no tokenizer needed)." };
        var json = new Option<bool>("--json") { Description = "Print only one JSON line at the end: {\"output_ids\":[...],\"text\":\"...\"}." };
        var chat = new Option<bool>("--chat") { Description = "Wrap the prompt as one user message in the model's chat template." };
        var command = new Command("generate", "Generate a continuation of a prompt, streaming the text.") { prompt, promptIds, json, chat };
        models.AddTo(command);
        sampling.AddTo(command);
        command.SetAction(result =>
        {
            string? text = result.GetValue(prompt);
            string? ids = result.GetValue(promptIds);
            if ((text is null) == (ids is null))
            {
                throw new CliException("give either a prompt text or --prompt-ids (exactly one)");
            }

            using var session = ModelSession.Open(models.Read(result), needTokenizer: text is not null, tokenizerAlternative: " or use --prompt-ids");
            int[] input = ids is not null ? ParseIds(ids, "--prompt-ids")
                : result.GetValue(chat) ? session.Tokenizer!.ApplyChatTemplate([new("user", text!)], addGenerationPrompt: true).Ids
                : session.Tokenizer!.Encode(text!);
            var samplingParams = sampling.ReadSampling(result, session.Directory);
            var stop = sampling.ReadStop(result);
            bool asJson = result.GetValue(json);
            var generation = session.Generator.Generate(
                session.Generator.CreateSession(sampling.ReadMaxContext(result)),
                input,
                samplingParams,
                stop,
                asJson ? null : e => console.Out.Write(e.Text));
            if (asJson)
            {
                console.Out.WriteLine(JsonSerializer.Serialize(new GenerateOutput(generation.OutputIds, generation.Text, FinishName(generation.FinishReason)), CliJson.Options));
            }
            else
            {
                console.Out.WriteLine();
                console.Error.WriteLine(
                    $"[{generation.PromptTokens} prompt tokens at {generation.PrefillTokensPerSecond:F1} tok/s, {generation.OutputIds.Count} generated at {generation.DecodeTokensPerSecond:F1} tok/s, finish: {FinishName(generation.FinishReason)}, seed {generation.Seed}]");
            }

            return 0;
        });
        return command;
    }

    public static string FinishName(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => "cancelled",
    };

    /// <summary>Parses a JSON array of token ids.</summary>
    public static int[] ParseIds(string json, string what)
    {
        try
        {
            var ids = JsonSerializer.Deserialize<int[]>(json);
            return ids is { Length: > 0 } ? ids : throw new CliException($"{what}: expected a non-empty JSON array of token ids");
        }
        catch (JsonException e)
        {
            throw new CliException($"{what}: expected a JSON array of integers like [1,2,3] ({e.Message})");
        }
    }

    private sealed record GenerateOutput(IReadOnlyList<int> OutputIds, string Text, string FinishReason);
}
