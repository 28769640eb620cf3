using System.CommandLine;
using System.Text.Json;
using Fathom.Model;

namespace Fathom.Cli.Commands;

/// <summary>`fathom logits`: float32 logits of every position of token sequences, written as safetensors.</summary>
public static class LogitsCommand
{
    public static Command Create(CliConsole console)
    {
        var models = new ModelOptionSet(console);
        var input = new Option<string>("--input", "-i") { Description = "JSON file: an array of token-id arrays.", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "safetensors file to write, with logits.{i} [len, vocab] float32.", Required = true };
        var command = new Command("logits", "Compute the logits of every position of token sequences (float32 path).") { input, output };
        models.AddTo(command);
        command.SetAction(result =>
        {
            string inputPath = result.GetValue(input)!;
            if (!File.Exists(inputPath))
            {
                throw new CliException($"--input: file '{inputPath}' not found");
            }

            int[][] sequences = ParseSequences(inputPath);
            using var session = ModelSession.Open(models.Read(result));
            int vocab = session.Model.Config.VocabSize;
            var writer = new SafeTensorsWriter();
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            int positions = 0;
            for (int i = 0; i < sequences.Length; i++)
            {
                int[] ids = sequences[i];
                foreach (int id in ids)
                {
                    if ((uint)id >= (uint)vocab)
                    {
                        throw new CliException($"{inputPath}: sequence {i} has token id {id}, outside the vocabulary [0, {vocab})");
                    }
                }

                if (ids.Length > session.Model.Config.MaxPositionEmbeddings)
                {
                    throw new CliException($"{inputPath}: sequence {i} has {ids.Length} tokens, more than max_position_embeddings {session.Model.Config.MaxPositionEmbeddings}");
                }

                var logits = new float[ids.Length * vocab];
                session.Transformer.Forward(ids, session.Transformer.CreateCache(ids.Length), logits, LogitsSelection.All);
                writer.Add($"logits.{i}", logits, ids.Length, vocab);
                positions += ids.Length;
            }

            writer.AddMetadata("model", session.Directory);
            writer.Write(result.GetValue(output)!);
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            console.Error.WriteLine($"wrote {sequences.Length} logits tensors ({positions} positions, computed in {elapsed.TotalMilliseconds:F0} ms) to {result.GetValue(output)}");
            return 0;
        });
        return command;
    }

    private static int[][] ParseSequences(string path)
    {
        try
        {
            var sequences = JsonSerializer.Deserialize<int[][]>(File.ReadAllText(path));
            if (sequences is null || sequences.Length == 0 || sequences.Any(s => s is null || s.Length == 0))
            {
                throw new CliException($"{path}: expected a non-empty JSON array of non-empty token-id arrays, e.g. [[1,2,3],[4,5]]");
            }

            return sequences;
        }
        catch (JsonException e)
        {
            throw new CliException($"{path}: expected a JSON array of token-id arrays ({e.Message})");
        }
    }
}
