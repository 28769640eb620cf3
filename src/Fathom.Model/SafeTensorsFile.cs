using System.IO.MemoryMappedFiles;
using System.Text.Json;
using Fathom.Core;

namespace Fathom.Model;

/// <summary>One tensor's header entry: where its bytes lie in the data block of its file.</summary>
public sealed record TensorEntry(string Name, DType Type, int[] Shape, long Begin, long End, SafeTensorsFile File)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    public override string ToString() => $"{Name} {Type.ToSafeTensors()}{ShapeText}";
}

/// <summary>
/// A memory-mapped .safetensors file: 8-byte little-endian header length N, N bytes of JSON, then the
/// data block. The header is checked completely before anything is read through it (offsets inside the
/// data block, sizes matching dtype × shape, no overlaps), so a damaged file fails with a message naming
/// the file and tensor instead of reading out of bounds.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly long _dataStart;
    private bool _disposed;

    private SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long dataStart, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        _dataStart = dataStart;
        Length = length;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + view.PointerOffset;
    }

    public string Path { get; }

    public long Length { get; }

    public IReadOnlyDictionary<string, TensorEntry> Tensors { get; private set; } = new Dictionary<string, TensorEntry>();

    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    public static SafeTensorsFile Open(string path, WeightResidency residency = WeightResidency.Mapped)
    {
        if (!System.IO.File.Exists(path))
        {
            throw new ModelFormatException($"{path}: file not found");
        }

        long length = new FileInfo(path).Length;
        if (length < 8)
        {
            throw new ModelFormatException($"{path}: truncated: {length} bytes, shorter than the 8-byte header length");
        }

        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        SafeTensorsFile? file = null;
        try
        {
            ulong headerLength = view.ReadUInt64(0);
            if (headerLength > (ulong)(length - 8))
            {
                throw new ModelFormatException(
                    $"{path}: header length {headerLength} runs past the end of the file ({length} bytes): the file is truncated or not safetensors");
            }

            if ((long)headerLength > MaxHeaderBytes)
            {
                throw new ModelFormatException($"{path}: header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
            }

            file = new SafeTensorsFile(path, map, view, 8 + (long)headerLength, length);
            file.ParseHeader((int)headerLength);
            return file;
        }
        catch
        {
            if (file is not null)
            {
                file.Dispose();
            }
            else
            {
                view.Dispose();
                map.Dispose();
            }

            throw;
        }
    }

    /// <summary>A pointer to the first byte of a tensor's data (valid while this file is open).</summary>
    public byte* DataPointer(TensorEntry entry)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _base + _dataStart + entry.Begin;
    }

    public ReadOnlySpan<byte> Bytes(TensorEntry entry) => new(DataPointer(entry), checked((int)(entry.End - entry.Begin)));

    private void ParseHeader(int headerLength)
    {
        var header = new ReadOnlySpan<byte>(_base + 8, headerLength);
        long dataLength = Length - _dataStart;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header.ToArray());
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{Path}: invalid header JSON: {e.Message}", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFormatException($"{Path}: the header must be a JSON object");
            }

            var tensors = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var m in property.Value.EnumerateObject())
                        {
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                        }
                    }

                    continue;
                }

                tensors[property.Name] = ParseEntry(property.Name, property.Value, dataLength);
            }

            CheckOverlaps(tensors.Values);
            Tensors = tensors;
            Metadata = metadata;
        }
    }

    private TensorEntry ParseEntry(string name, JsonElement e, long dataLength)
    {
        ModelFormatException Bad(string what) => new($"{Path}: tensor '{name}': {what}");

        if (e.ValueKind != JsonValueKind.Object)
        {
            throw Bad("header entry is not an object");
        }

        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
        {
            throw Bad("missing 'dtype'");
        }

        var type = DTypeInfo.FromSafeTensors(dt.GetString()!) ?? throw Bad($"unknown dtype '{dt.GetString()}'");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
        {
            throw Bad("missing 'shape'");
        }

        var shape = new int[sh.GetArrayLength()];
        for (int i = 0; i < shape.Length; i++)
        {
            if (sh[i].ValueKind != JsonValueKind.Number || !sh[i].TryGetInt64(out long d) || d < 0 || d > int.MaxValue)
            {
                throw Bad($"invalid dimension {sh[i].GetRawText()} in shape");
            }

            shape[i] = (int)d;
        }

        long expected;
        try
        {
            expected = shape.Contains(0) ? 0 : checked(shape.Aggregate(1L, (a, d) => checked(a * d)) * type.Size());
        }
        catch (OverflowException)
        {
            throw Bad($"shape [{string.Join(", ", shape)}] is too large");
        }

        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2
            || off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end))
        {
            throw Bad("missing or invalid 'data_offsets' (expected [begin, end])");
        }

        if (begin < 0 || end < begin)
        {
            throw Bad($"invalid data_offsets [{begin}, {end}]");
        }

        if (end > dataLength)
        {
            throw Bad($"data_offsets [{begin}, {end}] lie outside the data block of {dataLength} bytes (file truncated?)");
        }

        if (end - begin != expected)
        {
            throw Bad($"data_offsets [{begin}, {end}] hold {end - begin} bytes but {type.ToSafeTensors()}[{string.Join(", ", shape)}] needs {expected}");
        }

        return new TensorEntry(name, type, shape, begin, end, this);
    }

    private void CheckOverlaps(IEnumerable<TensorEntry> entries)
    {
        TensorEntry? previous = null;
        foreach (var entry in entries.Where(t => t.End > t.Begin).OrderBy(t => t.Begin))
        {
            if (previous is not null && entry.Begin < previous.End)
            {
                throw new ModelFormatException(
                    $"{Path}: tensors '{previous.Name}' [{previous.Begin}, {previous.End}) and '{entry.Name}' [{entry.Begin}, {entry.End}) overlap");
            }

            previous = entry;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _view?.SafeMemoryMappedViewHandle.ReleasePointer();
        _view?.Dispose();
        _map?.Dispose();
    }
}
