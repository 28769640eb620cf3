using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fathom.Core;

namespace Fathom.Model;

/// <summary>
/// Writes a random-weight checkpoint folder: config.json, then the tensors of <see cref="RandomCheckpointPlan"/>
/// streamed to model.safetensors (or shards plus model.safetensors.index.json). Memory stays at two
/// 32 MiB buffers whatever the model size: all cores fill one while the other is being written.
/// </summary>
public static class RandomCheckpointWriter
{
    private const int BufferBytes = 32 * 1024 * 1024;

    // Large enough that a worker's share amortises the hand-off, small enough to balance two cores.
    private const int PieceBytes = 1024 * 1024;

    private const string SingleFile = "model.safetensors";
    private const string IndexFile = "model.safetensors.index.json";

    /// <summary>
    /// Writes the checkpoint described by <paramref name="options"/> into <paramref name="directory"/>. A folder
    /// that already holds config.json or safetensors is refused unless <paramref name="overwrite"/> is set
    /// (then only those files are replaced).
    /// </summary>
    public static RandomCheckpointResult Write(string directory, RandomCheckpointOptions options, bool overwrite = false, Action<string>? progress = null)
    {
        options.Validate();
        long started = Stopwatch.GetTimestamp();
        Directory.CreateDirectory(directory);
        PrepareFolder(directory, overwrite);

        string configPath = Path.Combine(directory, "config.json");
        File.WriteAllText(configPath, options.ToConfigJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        // Reading the config back builds the plan from exactly what a loader will see.
        var config = ModelConfig.Load(configPath);
        var plan = RandomCheckpointPlan.Create(config, options.WeightType, options.Std);
        var shards = plan.Shards(options.ShardBytes);
        CheckFreeSpace(directory, plan.Bytes);

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = "pt",
            ["fathom.random.preset"] = options.Shape.Name,
            ["fathom.random.seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
            ["fathom.random.std"] = options.Std.ToString("R", CultureInfo.InvariantCulture),
        };
        var files = new List<string>();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var buffers = new[] { GC.AllocateUninitializedArray<byte>(BufferBytes), GC.AllocateUninitializedArray<byte>(BufferBytes) };
        long written = 0;
        for (int s = 0; s < shards.Count; s++)
        {
            string name = shards.Count == 1 ? SingleFile : $"model-{s + 1:D5}-of-{shards.Count:D5}.safetensors";
            string path = Path.Combine(directory, name);
            WriteShard(path, shards[s], options.Seed, metadata, buffers);
            written += shards[s].Sum(t => t.ByteLength);
            files.Add(path);
            foreach (var t in shards[s])
            {
                weightMap[t.Name] = name;
            }

            progress?.Invoke($"wrote {name} ({shards[s].Count} tensors, {written / 1e9:F2} of {plan.Bytes / 1e9:F2} GB)");
        }

        if (shards.Count > 1)
        {
            var index = new JsonObject
            {
                ["metadata"] = new JsonObject { ["total_size"] = plan.Bytes },
                ["weight_map"] = new JsonObject(weightMap.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            };
            File.WriteAllText(Path.Combine(directory, IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }

        return new RandomCheckpointResult(directory, configPath, files, plan.Bytes, plan.Parameters, plan.Tensors.Count, Stopwatch.GetElapsedTime(started));
    }

    private static void PrepareFolder(string directory, bool overwrite)
    {
        var existing = Directory.GetFiles(directory, "*.safetensors")
            .Concat(Directory.GetFiles(directory, "*.safetensors.partial"))
            .Concat(new[] { "config.json", IndexFile }.Select(f => Path.Combine(directory, f)).Where(File.Exists))
            .ToList();
        if (existing.Count == 0)
        {
            return;
        }

        if (!overwrite)
        {
            throw new IOException($"{directory} already holds a model ({Path.GetFileName(existing[0])}); pass --force to replace it");
        }

        foreach (string file in existing)
        {
            File.Delete(file);
        }
    }

    private static void CheckFreeSpace(string directory, long bytes)
    {
        long free;
        try
        {
            free = new DriveInfo(Path.GetFullPath(directory)).AvailableFreeSpace;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            return;
        }

        if (bytes > free)
        {
            throw new IOException($"{directory}: the checkpoint needs {bytes / 1e9:F2} GB but only {free / 1e9:F2} GB are free");
        }
    }

    private static void WriteShard(string path, IReadOnlyList<RandomCheckpointTensor> tensors, ulong seed, Dictionary<string, string> metadata, byte[][] buffers)
    {
        string partial = path + ".partial";
        byte[] header = Header(tensors, metadata);
        // Reserving the whole file up front (fallocate) gives the file system one extent plan instead of
        // growing it 32 MiB at a time, and fails at once when the disk is too small.
        var fileOptions = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 0,
            PreallocationSize = header.Length + tensors.Sum(t => t.ByteLength),
        };
        using (var stream = new FileStream(partial, fileOptions))
        {
            stream.Write(header);
            var seeds = tensors.Select(t => RandomCheckpointSampler.TensorSeed(seed, t.Name)).ToArray();
            var segments = new List<Segment>();
            int current = 0, used = 0;
            Task pending = Task.CompletedTask;

            void Flush()
            {
                if (used == 0)
                {
                    return;
                }

                Generate(buffers[current], segments, tensors, seeds);
                pending.GetAwaiter().GetResult();
                byte[] full = buffers[current];
                int length = used;
                pending = Task.Run(() => stream.Write(full, 0, length));
                current ^= 1;
                used = 0;
                segments.Clear();
            }

            for (int t = 0; t < tensors.Count; t++)
            {
                int elementBytes = tensors[t].Type.Size();
                long elements = tensors[t].ElementCount, done = 0;
                while (done < elements)
                {
                    int room = (BufferBytes - used) / elementBytes;
                    if (room == 0)
                    {
                        Flush();
                        continue;
                    }

                    int take = (int)Math.Min(room, elements - done);
                    segments.Add(new Segment(t, done, used, take * elementBytes));
                    used += take * elementBytes;
                    done += take;
                }
            }

            Flush();
            pending.GetAwaiter().GetResult();
        }

        File.Move(partial, path, overwrite: true);
    }

    /// <summary>Fills a buffer's segments on all cores, cutting big segments into pieces.</summary>
    private static void Generate(byte[] buffer, List<Segment> segments, IReadOnlyList<RandomCheckpointTensor> tensors, ulong[] seeds)
    {
        var pieces = new List<Segment>();
        foreach (var s in segments)
        {
            int elementBytes = tensors[s.Tensor].Type.Size();
            int pieceElements = PieceBytes / elementBytes;
            for (int start = 0; start < s.Bytes / elementBytes; start += pieceElements)
            {
                int count = Math.Min(pieceElements, (s.Bytes / elementBytes) - start);
                pieces.Add(new Segment(s.Tensor, s.FirstElement + start, s.Offset + (start * elementBytes), count * elementBytes));
            }
        }

        Parallel.ForEach(pieces, p => RandomCheckpointSampler.Fill(tensors[p.Tensor], seeds[p.Tensor], p.FirstElement, buffer.AsSpan(p.Offset, p.Bytes)));
    }

    private static byte[] Header(IReadOnlyList<RandomCheckpointTensor> tensors, Dictionary<string, string> metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata)
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
            long offset = 0;
            foreach (var t in tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.Type.ToSafeTensors());
                json.WriteStartArray("shape");
                foreach (int d in t.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.ByteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.ByteLength;
            }

            json.WriteEndObject();
        }

        // Spaces pad the header so the data block starts 8-byte aligned, as the safetensors library does.
        int padding = (int)((8 - (buffer.Length % 8)) % 8);
        buffer.Write(Encoding.ASCII.GetBytes(new string(' ', padding)));
        byte[] header = buffer.ToArray();
        var result = new byte[8 + header.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result.AsSpan(0, 8), (ulong)header.Length);
        header.CopyTo(result, 8);
        return result;
    }

    /// <summary>Elements [FirstElement, …) of tensor number Tensor, placed at Offset in the buffer.</summary>
    private readonly record struct Segment(int Tensor, long FirstElement, int Offset, int Bytes);
}
