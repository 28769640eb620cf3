using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.ExceptionServices;
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
/// A .safetensors file, memory-mapped or read into anonymous memory (<see cref="WeightResidency"/>): 8-byte
/// little-endian header length N, N bytes of JSON, then the data block. The header is checked completely
/// before anything is read through it (offsets inside the data block, sizes matching dtype × shape, no
/// overlaps), so a damaged file fails with a message naming the file and tensor instead of reading out of
/// bounds. Both residencies run the same checks on the same bytes, so they fail with the same messages.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    // Reads into anonymous memory go in pieces of this size, so several can run in parallel and no single
    // read exceeds what a span can address.
    private const int ReadPieceBytes = 64 * 1024 * 1024;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly AnonymousMemory? _memory;
    private readonly byte* _base;
    private long _dataStart;
    private bool _disposed;

    private SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        Length = length;
        Residency = WeightResidency.Mapped;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + view.PointerOffset;
    }

    private SafeTensorsFile(string path, AnonymousMemory memory)
    {
        Path = path;
        _memory = memory;
        Length = memory.Length;
        Residency = WeightResidency.InMemory;
        _base = memory.Pointer;
    }

    public string Path { get; }

    public long Length { get; }

    /// <summary>Where the bytes live: the mapped file or a private copy in anonymous memory.</summary>
    public WeightResidency Residency { get; }

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

        var file = residency == WeightResidency.InMemory ? ReadIntoMemory(path, length) : Map(path, length);
        try
        {
            file.ReadHeader();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static SafeTensorsFile Map(string path, long length)
    {
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            return new SafeTensorsFile(path, map, view, length);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    private static SafeTensorsFile ReadIntoMemory(string path, long length)
    {
        var memory = new AnonymousMemory(length);
        try
        {
            using var handle = System.IO.File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            byte* destination = memory.Pointer;
            int pieces = (int)((length + ReadPieceBytes - 1) / ReadPieceBytes);
            // Page faults on fresh anonymous memory cost as much as the copy: two readers halve the wall time.
            Parallel.For(0, pieces, piece =>
            {
                long offset = (long)piece * ReadPieceBytes;
                int count = (int)Math.Min(ReadPieceBytes, length - offset);
                var span = new Span<byte>(destination + offset, count);
                while (!span.IsEmpty)
                {
                    int read = RandomAccess.Read(handle, span, offset);
                    if (read == 0)
                    {
                        throw new IOException($"{path}: the file shrank to {offset} bytes while being read (expected {length})");
                    }

                    span = span[read..];
                    offset += read;
                }
            });
            return new SafeTensorsFile(path, memory);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            memory.Dispose();
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    private void ReadHeader()
    {
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_base, 8));
        if (headerLength > (ulong)(Length - 8))
        {
            throw new ModelFormatException(
                $"{Path}: header length {headerLength} runs past the end of the file ({Length} bytes): the file is truncated or not safetensors");
        }

        if ((long)headerLength > MaxHeaderBytes)
        {
            throw new ModelFormatException($"{Path}: header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
        }

        _dataStart = 8 + (long)headerLength;
        ParseHeader((int)headerLength);
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
        _memory?.Dispose();
    }
}
