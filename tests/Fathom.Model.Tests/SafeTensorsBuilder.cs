using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Fathom.Core;
using Fathom.Model;

namespace Fathom.Model.Tests;

/// <summary>One tensor to write: its safetensors dtype string, shape and raw bytes (any of which may be wrong on purpose).</summary>
internal sealed record TensorBytes(string Name, string DType, long[] Shape, byte[] Data);

/// <summary>
/// Writes .safetensors files for tests: well-formed ones from a list of tensors (data_offsets laid out back to
/// back), or arbitrary header text and data bytes for files that are broken on purpose.
/// </summary>
internal static class SafeTensorsBuilder
{
    /// <summary>Writes the 8-byte little-endian header length, the header text and the data block.</summary>
    public static void WriteRaw(string path, string header, byte[] data, ulong? headerLength = null)
    {
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);
        using var stream = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, headerLength ?? (ulong)headerBytes.Length);
        stream.Write(length);
        stream.Write(headerBytes);
        stream.Write(data);
    }

    /// <summary>Writes the tensors in order, each right after the previous one.</summary>
    public static void Write(string path, IEnumerable<TensorBytes> tensors)
    {
        var list = tensors.ToList();
        var (header, data) = Layout(list);
        WriteRaw(path, header, data);
    }

    /// <summary>The header JSON and data block for <paramref name="tensors"/> laid out back to back.</summary>
    public static (string Header, byte[] Data) Layout(IReadOnlyList<TensorBytes> tensors)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            json.WriteEndObject();
            long offset = 0;
            foreach (var t in tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType);
                json.WriteStartArray("shape");
                foreach (long d in t.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Data.Length;
            }

            json.WriteEndObject();
        }

        return (Encoding.UTF8.GetString(buffer.ToArray()), [.. tensors.SelectMany(t => t.Data)]);
    }

    /// <summary>Every tensor of an existing file, in data order, with a copy of its bytes.</summary>
    public static List<TensorBytes> Read(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        return [.. file.Tensors.Values
            .OrderBy(e => e.Begin)
            .Select(e => new TensorBytes(e.Name, e.Type.ToSafeTensors(), [.. e.Shape.Select(d => (long)d)], file.Bytes(e).ToArray()))];
    }

    public static TensorBytes F32(string name, long[] shape, params float[] values) =>
        new(name, "F32", shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public static TensorBytes Zeros(string name, string dtype, params long[] shape)
    {
        long count = shape.Aggregate(1L, (a, d) => a * d);
        int size = DTypeInfo.FromSafeTensors(dtype)!.Value.Size();
        return new TensorBytes(name, dtype, shape, new byte[count * size]);
    }
}
