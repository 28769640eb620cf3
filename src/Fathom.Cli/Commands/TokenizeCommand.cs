using System.CommandLine;
using System.Text.Json;
using Fathom.Tokenizer;

namespace Fathom.Cli.Commands;

/// <summary>`fathom tokenize`: stdin (verbatim) to token ids; with --chat, a JSON message list through the chat template.</summary>
public static class TokenizeCommand
{
    public static Command Create(CliConsole console)
    {
        var tokenizerOption = new Option<string?>("--tokenizer") { Description = "Folder with tokenizer.json (default: the model folder)." };
        var modelOption = new Option<string?>("--model", "-m") { Description = $"Model folder whose tokenizer to use (default: the bundled {ModelLocator.BundledModel})." };
        var chat = new Option<bool>("--chat") { Description = "stdin is a JSON array of {role, content} messages; prints {\"prompt\":...,\"ids\":[...]} with the generation prompt." };
        var noBos = new Option<bool>("--no-bos", "--no-special-tokens") { Description = "Do not add the BOS token the tokenizer config asks for." };
        var command = new Command("tokenize", "Turn text on stdin into token ids.") { tokenizerOption, modelOption, chat, noBos };
        command.SetAction(result =>
        {
            string? folder = result.GetValue(tokenizerOption);
            TextTokenizer tokenizer;
            if (folder is null)
            {
                string model = ModelLocator.ResolveModel(result.GetValue(modelOption));
                tokenizer = ModelLocator.RequireTokenizer(ModelLocator.LoadTokenizer(null, model), model, string.Empty);
            }
            else
            {
                tokenizer = ModelLocator.LoadTokenizer(folder, null)!;
            }

            string input = console.In.ReadToEnd();
            if (result.GetValue(chat))
            {
                var messages = ParseMessages(input);
                var (prompt, ids) = tokenizer.ApplyChatTemplate(messages, addGenerationPrompt: true);
                console.Out.WriteLine(JsonSerializer.Serialize(new { prompt, ids }, CliJson.Options));
            }
            else
            {
                int[] ids = tokenizer.Encode(input, addSpecialTokens: !result.GetValue(noBos));
                console.Out.WriteLine(JsonSerializer.Serialize(new { ids }, CliJson.Options));
            }

            return 0;
        });
        return command;
    }

    private static List<ChatMessage> ParseMessages(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new CliException("--chat: stdin must be a JSON array of {\"role\": ..., \"content\": ...} messages");
            }

            var messages = new List<ChatMessage>();
            int index = 0;
            foreach (var m in doc.RootElement.EnumerateArray())
            {
                if (m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                {
                    throw new CliException($"--chat: message {index} needs a string \"role\"");
                }

                string? content = m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                if (content is null && !(m.TryGetProperty("content", out var n) && n.ValueKind == JsonValueKind.Null))
                {
                    throw new CliException($"--chat: message {index} needs a string \"content\" (or null)");
                }

                messages.Add(new ChatMessage(role.GetString()!, content));
                index++;
            }

            return messages;
        }
        catch (JsonException e)
        {
            throw new CliException($"--chat: stdin is not valid JSON: {e.Message}");
        }
    }
}
