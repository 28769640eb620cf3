using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>A damaged .safetensors file fails to open with a ModelFormatException naming the file and the tensor.</summary>
public sealed class SafeTensorsHeaderErrorTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private string Path => _temp.File("model.safetensors");

    [Fact]
    public void FileShorterThanTheLengthPrefixFails()
    {
        File.WriteAllBytes(Path, [1, 2, 3, 4, 5]);
        var e = OpenFails();
        Assert.Contains("5 bytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyFileFails()
    {
        File.WriteAllBytes(Path, []);
        var e = OpenFails();
        Assert.Contains("0 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileFails()
    {
        var e = OpenFails();
        Assert.Contains("not found", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderLengthPastTheEndOfTheFileFails()
    {
        SafeTensorsBuilder.WriteRaw(Path, "{}", new byte[16], headerLength: 1000);
        var e = OpenFails();
        Assert.Contains("header length 1000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderLengthWithTheTopBitSetFails()
    {
        SafeTensorsBuilder.WriteRaw(Path, "{}", new byte[16], headerLength: ulong.MaxValue);
        var e = OpenFails();
        Assert.Contains("runs past the end", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidHeaderJsonFails()
    {
        SafeTensorsBuilder.WriteRaw(Path, "{\"w\": {\"dtype\": ", []);
        var e = OpenFails();
        Assert.Contains("invalid header JSON", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<System.Text.Json.JsonException>(e.InnerException);
    }

    [Theory]
    [InlineData("[1, 2]")]
    [InlineData("\"w\"")]
    [InlineData("42")]
    public void HeaderThatIsNotAnObjectFails(string header)
    {
        SafeTensorsBuilder.WriteRaw(Path, header, []);
        var e = OpenFails();
        Assert.Contains("JSON object", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownDTypeFails()
    {
        WriteOne("""{"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}""", dataBytes: 1);
        var e = OpenFailsNaming("w");
        Assert.Contains("unknown dtype 'F4'", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[-2, 4]", "-2")]
    [InlineData("[2.5, 4]", "2.5")]
    [InlineData("[\"2\", 4]", "\"2\"")]
    [InlineData("[2, 4294967296]", "4294967296")]
    public void InvalidShapeDimensionFails(string shape, string shown)
    {
        WriteOne($$"""{"dtype": "F32", "shape": {{shape}}, "data_offsets": [0, 32]}""", dataBytes: 32);
        var e = OpenFailsNaming("w");
        Assert.Contains($"invalid dimension {shown}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShapeWhoseSizeOverflowsFails()
    {
        WriteOne("""{"dtype": "F32", "shape": [2147483647, 2147483647, 2147483647], "data_offsets": [0, 8]}""", dataBytes: 8);
        var e = OpenFailsNaming("w");
        Assert.Contains("too large", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"shape": [2], "data_offsets": [0, 8]}""", "missing 'dtype'")]
    [InlineData("""{"dtype": "F32", "data_offsets": [0, 8]}""", "missing 'shape'")]
    [InlineData("""{"dtype": "F32", "shape": [2]}""", "data_offsets")]
    [InlineData("""{"dtype": "F32", "shape": [2], "data_offsets": [0]}""", "data_offsets")]
    [InlineData("""{"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}""", "invalid data_offsets [8, 0]")]
    [InlineData("""{"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}""", "invalid data_offsets [-8, 0]")]
    [InlineData("""{"dtype": "F32", "shape": [2], "data_offsets": ["0", "8"]}""", "data_offsets")]
    [InlineData("""{"dtype": "F32", "shape": [2], "data_offsets": [0, 8.5]}""", "data_offsets")]
    [InlineData("""{"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}""", "missing 'shape'")]
    [InlineData("""{"dtype": 32, "shape": [2], "data_offsets": [0, 8]}""", "missing 'dtype'")]
    [InlineData("""[0, 8]""", "not an object")]
    public void MalformedEntryFails(string entry, string complaint)
    {
        WriteOne(entry, dataBytes: 8);
        var e = OpenFailsNaming("w");
        Assert.Contains(complaint, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DataOffsetsOutsideTheDataBlockFail()
    {
        WriteOne("""{"dtype": "F32", "shape": [16], "data_offsets": [0, 64]}""", dataBytes: 32);
        var e = OpenFailsNaming("w");
        Assert.Contains("outside the data block of 32 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DataOffsetsThatDisagreeWithTheShapeFail()
    {
        WriteOne("""{"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}""", dataBytes: 24);
        var e = OpenFailsNaming("w");
        Assert.Contains("hold 20 bytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("F32[2, 3] needs 24", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OverlappingTensorsFail()
    {
        SafeTensorsBuilder.WriteRaw(
            Path,
            """
            {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
             "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}
            """,
            new byte[24]);
        var e = OpenFailsNaming("a");
        Assert.Contains("'b'", e.Message, StringComparison.Ordinal);
        Assert.Contains("overlap", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WellFormedFileOpens()
    {
        SafeTensorsBuilder.Write(Path, [
            SafeTensorsBuilder.F32("a", [2], 1, 2),
            SafeTensorsBuilder.Zeros("empty", "BF16", 0, 5),
            SafeTensorsBuilder.F32("b", [1, 3], 3, 4, 5)]);
        using var file = SafeTensorsFile.Open(Path);
        Assert.Equal(["a", "b", "empty"], file.Tensors.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([1, 3], file.Tensors["b"].Shape);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal([3f, 4f, 5f], System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(file.Bytes(file.Tensors["b"])).ToArray());
    }

    public void Dispose() => _temp.Dispose();

    private void WriteOne(string entry, int dataBytes) =>
        SafeTensorsBuilder.WriteRaw(Path, $$"""{"w": {{entry}}}""", new byte[dataBytes]);

    private ModelFormatException OpenFails()
    {
        var e = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(Path).Dispose());
        Assert.Contains(Path, e.Message, StringComparison.Ordinal);
        return e;
    }

    private ModelFormatException OpenFailsNaming(string tensor)
    {
        var e = OpenFails();
        Assert.Contains($"'{tensor}'", e.Message, StringComparison.Ordinal);
        return e;
    }
}
