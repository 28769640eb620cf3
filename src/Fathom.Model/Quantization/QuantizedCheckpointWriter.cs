using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fathom.Model;

/// <summary>
/// Writes a quantized checkpoint folder shard by shard into a hidden temporary folder beside the output, and
/// moves it into place only when everything is written, so an interrupted or failed job never leaves a
/// folder that looks complete. Files of the source folder other than weights and config.json (tokenizer,
/// generation config, chat template, calibration text) are copied.
/// </summary>
internal sealed class QuantizedCheckpointWriter : IDisposable
{
    private readonly string _output;
    private readonly string _temporary;
    private readonly int _shards;
    private readonly SortedDictionary<string, string> _index = new(StringComparer.Ordinal);
    private int _written;
    private bool _finished;

    public QuantizedCheckpointWriter(string output, int shards)
    {
        _output = Path.GetFullPath(output);
        if (Directory.Exists(_output) || File.Exists(_output))
        {
            throw new ArgumentException($"the output '{output}' already exists; choose a new folder or remove it first");
        }

        string parent = Path.GetDirectoryName(_output) ?? throw new ArgumentException($"the output '{output}' has no parent folder");
        if (!Directory.Exists(parent))
        {
            throw new DirectoryNotFoundException($"the output's parent folder '{parent}' does not exist");
        }

        _temporary = Path.Combine(parent, $".{Path.GetFileName(_output)}.partial-{Environment.ProcessId}");
        if (Directory.Exists(_temporary))
        {
            Directory.Delete(_temporary, recursive: true);
        }

        Directory.CreateDirectory(_temporary);
        _shards = shards;
    }

    public long Bytes { get; private set; }

    /// <summary>Writes the next shard.</summary>
    public void WriteShard(SafeTensorsWriter shard, IEnumerable<string> names)
    {
        _written++;
        string file = $"model-{_written:D5}-of-{_shards:D5}.safetensors";
        string path = Path.Combine(_temporary, file);
        shard.Write(path);
        Bytes += new FileInfo(path).Length;
        foreach (string name in names)
        {
            _index[name] = file;
        }
    }

    /// <summary>Writes the index and config.json, copies the other files, and moves the folder into place.</summary>
    public void Finish(string sourceDirectory, JsonObject quantizationConfig)
    {
        if (_written != _shards)
        {
            throw new InvalidOperationException($"{_written} of {_shards} shards written");
        }

        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = Bytes },
            ["weight_map"] = new JsonObject(_index.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))),
        };
        var indented = new JsonSerializerOptions { WriteIndented = true };
        File.WriteAllText(Path.Combine(_temporary, "model.safetensors.index.json"), index.ToJsonString(indented) + "\n");

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(sourceDirectory, "config.json")))!.AsObject();
        config["quantization_config"] = quantizationConfig;
        File.WriteAllText(Path.Combine(_temporary, "config.json"), config.ToJsonString(indented) + "\n");

        foreach (string file in Directory.EnumerateFiles(sourceDirectory))
        {
            string name = Path.GetFileName(file);
            bool weights = name.EndsWith(".safetensors", StringComparison.Ordinal)
                || name.Contains(".safetensors.", StringComparison.Ordinal)
                || name == "config.json"
                || name.Equals("README.md", StringComparison.OrdinalIgnoreCase);
            if (!weights)
            {
                File.Copy(file, Path.Combine(_temporary, name));
            }
        }

        Directory.Move(_temporary, _output);
        _finished = true;
    }

    public void Dispose()
    {
        if (!_finished && Directory.Exists(_temporary))
        {
            Directory.Delete(_temporary, recursive: true);
        }
    }
}
