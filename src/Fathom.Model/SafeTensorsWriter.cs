using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Fathom.Core;

namespace Fathom.Model;

/// <summary>Writes a .safetensors file: tensors in the order added, 8-byte aligned data, optional metadata.</summary>
public sealed class SafeTensorsWriter
{
    private readonly List<(string Name, DType Type, int[] Shape, byte[] Data)> _tensors = [];
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);

    public void AddMetadata(string key, string value) => _metadata[key] = value;

    public void Add(string name, ReadOnlySpan<float> values, params int[] shape) =>
        Add(name, DType.F32, shape, MemoryMarshal.AsBytes(values).ToArray());

    public void Add(string name, DType type, int[] shape, byte[] data)
    {
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (count * type.Size() != data.Length)
        {
            throw new ArgumentException($"tensor '{name}': {data.Length} bytes do not hold {type.ToSafeTensors()}[{string.Join(", ", shape)}]");
        }

        if (_tensors.Any(t => t.Name == name))
        {
            throw new ArgumentException($"tensor '{name}' added twice");
        }

        _tensors.Add((name, type, shape, data));
    }

    public void Write(string path)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (_metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in _metadata)
                {
                    json.WriteString(k, v);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var (name, type, shape, data) in _tensors)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", type.ToSafeTensors());
                json.WriteStartArray("shape");
                foreach (int d in shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += data.Length;
            }

            json.WriteEndObject();
        }

        // Pad the header with spaces so the data block starts 8-byte aligned.
        int padding = (int)((8 - (buffer.Length % 8)) % 8);
        var header = buffer.ToArray().Concat(Encoding.ASCII.GetBytes(new string(' ', padding))).ToArray();
        string temporary = path + ".partial";
        using (var file = File.Create(temporary))
        {
            file.Write(BitConverter.GetBytes((ulong)header.Length));
            file.Write(header);
            foreach (var t in _tensors)
            {
                file.Write(t.Data);
            }
        }

        File.Move(temporary, path, overwrite: true);
    }
}
