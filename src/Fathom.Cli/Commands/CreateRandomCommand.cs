using System.CommandLine;
using System.Globalization;
using Fathom.Core;
using Fathom.Model;

namespace Fathom.Cli.Commands;

/// <summary>`fathom create-random`: a random-weight checkpoint shaped like a released DeepSeek model, for benchmarks and tests.</summary>
public static class CreateRandomCommand
{
    public static Command Create(CliConsole console)
    {
        var like = new Option<string>("--like") { Description = "Architecture: v2-lite (DeepSeek-V2-Lite; default vocab 129280, the standard bench model), v3 (DeepSeek-V3; use few layers) or tiny (for tests).", Required = true };
        var layers = new Option<int?>("--layers") { Description = "num_hidden_layers (default: the released model's: 27 for v2-lite, 61 for v3, 2 for tiny)." };
        var denseLayers = new Option<int?>("--dense-layers") { Description = "first_k_dense_replace (default: the released model's: 1 for v2-lite, 3 for v3)." };
        var output = new Option<string>("--out", "-o") { Description = "Folder to write config.json and the safetensors into.", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "bf16, or fp8 (F8_E4M3 linear weights with F32 128x128 block scales and a quantization_config).", DefaultValueFactory = _ => "bf16" };
        var seed = new Option<ulong>("--seed") { Description = "Random seed: the same seed writes the same bytes.", DefaultValueFactory = _ => 0 };
        var vocab = new Option<int?>("--vocab") { Description = "vocab_size (default: 129280 for v2-lite and v3, 1024 for tiny; real V2-Lite has 102400)." };
        var shardSize = new Option<string?>("--shard-size") { Description = "Largest shard, e.g. 4GB, 500MB, 2GiB or bytes (default 4GB); a model that fits is one model.safetensors." };
        var force = new Option<bool>("--force") { Description = "Replace the config.json and safetensors already in the folder." };
        var command = new Command("create-random", "Write a checkpoint of random weights shaped like DeepSeek-V2-Lite or V3.")
        {
            like, layers, denseLayers, output, dtype, seed, vocab, shardSize, force,
        };
        command.SetAction(result =>
        {
            string name = result.GetValue(like)!;
            var shape = RandomCheckpointShape.Find(name)
                ?? throw new CliException($"--like must be one of {string.Join(", ", RandomCheckpointShape.All.Select(s => s.Name))} (got '{name}')");
            var options = new RandomCheckpointOptions
            {
                Shape = shape,
                Layers = result.GetValue(layers),
                DenseLayers = result.GetValue(denseLayers),
                Vocab = result.GetValue(vocab),
                WeightType = result.GetValue(dtype) switch
                {
                    "bf16" => DType.BF16,
                    "fp8" => DType.F8E4M3,
                    var other => throw new CliException($"--dtype must be bf16 or fp8 (got '{other}')"),
                },
                Seed = result.GetValue(seed),
                ShardBytes = result.GetValue(shardSize) is { } size ? ParseSize(size) : RandomCheckpointOptions.DefaultShardBytes,
            };
            try
            {
                options.Validate();
            }
            catch (ArgumentException e)
            {
                throw new CliException($"create-random: {e.Message}");
            }

            string directory = result.GetValue(output)!;
            var written = RandomCheckpointWriter.Write(directory, options, result.GetValue(force), line => console.Error.WriteLine(line));
            // Loading validates every tensor against config.json, as any later command will.
            using var model = LoadedModel.Load(directory);
            var summary = ModelSummary.Compute(model);
            console.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"wrote {directory}: {shape.Name}, {model.Config.NumHiddenLayers} layers, vocab {model.Config.VocabSize}, {result.GetValue(dtype)}, seed {options.Seed}: {summary.TotalParameters:N0} parameters, {written.Bytes / 1e9:F2} GB in {written.Files.Count} file(s), {written.Elapsed.TotalSeconds:F1} s ({written.BytesPerSecond / 1e9:F2} GB/s)"));
            return 0;
        });
        return command;
    }

    /// <summary>Decimal (KB, MB, GB) or binary (KiB, MiB, GiB) units, or plain bytes.</summary>
    public static long ParseSize(string text)
    {
        string t = text.Trim();
        (string Suffix, long Unit)[] units =
        [
            ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("TiB", 1L << 40),
            ("KB", 1000L), ("MB", 1000_000L), ("GB", 1000_000_000L), ("TB", 1000_000_000_000L), ("B", 1L),
        ];
        foreach (var (suffix, unit) in units)
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                return Parse(t[..^suffix.Length], unit, text);
            }
        }

        return Parse(t, 1, text);

        static long Parse(string number, long unit, string text) =>
            double.TryParse(number.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0 && value * unit < long.MaxValue
                ? (long)(value * unit)
                : throw new CliException($"--shard-size: '{text}' is not a size such as 4GB, 500MB or 2GiB");
    }
}
