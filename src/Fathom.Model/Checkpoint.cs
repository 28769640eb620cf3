using System.Text.Json;

namespace Fathom.Model;

/// <summary>
/// The tensors of a model folder: one model.safetensors, several *.safetensors, or shards listed by
/// model.safetensors.index.json. Every file stays open (memory-mapped, or read into anonymous memory for
/// <see cref="WeightResidency.InMemory"/>) while the checkpoint is open.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    private readonly List<SafeTensorsFile> _files;
    private readonly Dictionary<string, TensorEntry> _tensors;

    private Checkpoint(string directory, List<SafeTensorsFile> files, Dictionary<string, TensorEntry> tensors)
    {
        Directory = directory;
        _files = files;
        _tensors = tensors;
    }

    public string Directory { get; }

    public IReadOnlyList<SafeTensorsFile> Files => _files;

    public IReadOnlyDictionary<string, TensorEntry> Tensors => _tensors;

    public static Checkpoint Open(string directory, WeightResidency residency = WeightResidency.Mapped)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new ModelFormatException($"{directory}: model folder not found");
        }

        string index = Path.Combine(directory, "model.safetensors.index.json");
        var files = new List<SafeTensorsFile>();
        var tensors = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        try
        {
            if (File.Exists(index))
            {
                var weightMap = ReadIndex(index);
                foreach (string shard in weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
                {
                    string shardPath = Path.Combine(directory, shard);
                    if (!File.Exists(shardPath))
                    {
                        string example = weightMap.First(p => p.Value == shard).Key;
                        throw new ModelFormatException($"{index}: weight_map names shard '{shard}' (for tensor '{example}'), but {shardPath} does not exist");
                    }

                    files.Add(SafeTensorsFile.Open(shardPath, residency));
                }

                foreach (var file in files)
                {
                    AddAll(file, tensors);
                }

                foreach (var (name, shard) in weightMap)
                {
                    if (!tensors.TryGetValue(name, out var entry))
                    {
                        throw new ModelFormatException($"{index}: tensor '{name}' is mapped to {shard} but that file does not contain it");
                    }

                    if (Path.GetFileName(entry.File.Path) != shard)
                    {
                        throw new ModelFormatException($"{index}: tensor '{name}' is mapped to {shard} but found in {Path.GetFileName(entry.File.Path)}");
                    }
                }
            }
            else
            {
                var paths = System.IO.Directory.GetFiles(directory, "*.safetensors").Order(StringComparer.Ordinal).ToList();
                if (paths.Count == 0)
                {
                    throw new ModelFormatException($"{directory}: no *.safetensors files (and no model.safetensors.index.json)");
                }

                foreach (string path in paths)
                {
                    var file = SafeTensorsFile.Open(path, residency);
                    files.Add(file);
                    AddAll(file, tensors);
                }
            }
        }
        catch
        {
            foreach (var f in files)
            {
                f.Dispose();
            }

            throw;
        }

        return new Checkpoint(directory, files, tensors);
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public TensorEntry? Find(string name) => _tensors.GetValueOrDefault(name);

    private static void AddAll(SafeTensorsFile file, Dictionary<string, TensorEntry> tensors)
    {
        foreach (var (name, entry) in file.Tensors)
        {
            if (tensors.TryGetValue(name, out var existing))
            {
                throw new ModelFormatException($"tensor '{name}' appears in both {existing.File.Path} and {file.Path}");
            }

            tensors[name] = entry;
        }
    }

    private static Dictionary<string, string> ReadIndex(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFormatException($"{path}: missing 'weight_map' object");
            }

            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                string shard = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw new ModelFormatException($"{path}: weight_map['{p.Name}'] must be a file name");
                if (shard.Contains('/', StringComparison.Ordinal) || shard.Contains('\\', StringComparison.Ordinal) || shard.Contains("..", StringComparison.Ordinal))
                {
                    throw new ModelFormatException($"{path}: weight_map['{p.Name}'] = '{shard}' must be a file in the model folder");
                }

                result[p.Name] = shard;
            }

            return result;
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: invalid JSON: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        foreach (var f in _files)
        {
            f.Dispose();
        }
    }
}
