using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>Checkpoint.Open on folders that hold no usable checkpoint fails with a message naming the folder or file.</summary>
public sealed class CheckpointFolderTests
{
    [Fact]
    public void MissingFolderFails()
    {
        using var temp = new TempDirectory();
        string missing = temp.File("no-such-model");
        var e = Assert.Throws<ModelFormatException>(() => Checkpoint.Open(missing));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.Contains("not found", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFolderFailsToLoadAsAModel()
    {
        using var temp = new TempDirectory();
        string missing = temp.File("no-such-model");
        var e = Assert.Throws<ModelFormatException>(() => LoadedModel.Load(missing));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FolderWithoutSafeTensorsFails()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("config.json"), "{}");
        File.WriteAllText(temp.File("model.bin"), "not safetensors");
        var e = Assert.Throws<ModelFormatException>(() => Checkpoint.Open(temp.Path));
        Assert.Contains(temp.Path, e.Message, StringComparison.Ordinal);
        Assert.Contains("no *.safetensors", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GoldenModelCutInHalfFailsWithAClearMessage()
    {
        using var copy = new ModelCopy("tiny-v3");
        using (var stream = new FileStream(copy.WeightsPath, FileMode.Open))
        {
            stream.SetLength(stream.Length / 2);
        }

        var e = Assert.Throws<ModelFormatException>(() => LoadedModel.Load(copy.Directory));
        Assert.Contains(copy.WeightsPath, e.Message, StringComparison.Ordinal);
        Assert.Contains("tensor 'model.", e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GoldenModelCutInsideItsHeaderFails()
    {
        using var copy = new ModelCopy("tiny-v3");
        using (var stream = new FileStream(copy.WeightsPath, FileMode.Open))
        {
            stream.SetLength(100);
        }

        var e = Assert.Throws<ModelFormatException>(() => Checkpoint.Open(copy.Directory));
        Assert.Contains(copy.WeightsPath, e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SeveralUnindexedFilesAreReadTogether()
    {
        using var temp = new TempDirectory();
        SafeTensorsBuilder.Write(temp.File("a.safetensors"), [SafeTensorsBuilder.F32("x", [1], 1)]);
        SafeTensorsBuilder.Write(temp.File("b.safetensors"), [SafeTensorsBuilder.F32("y", [1], 2)]);
        using var checkpoint = Checkpoint.Open(temp.Path);
        Assert.Equal(2, checkpoint.Files.Count);
        Assert.True(checkpoint.Contains("x"));
        Assert.EndsWith("b.safetensors", checkpoint.Find("y")!.File.Path, StringComparison.Ordinal);
    }

    [Fact]
    public void TensorInTwoUnindexedFilesFails()
    {
        using var temp = new TempDirectory();
        SafeTensorsBuilder.Write(temp.File("a.safetensors"), [SafeTensorsBuilder.F32("x", [1], 1)]);
        SafeTensorsBuilder.Write(temp.File("b.safetensors"), [SafeTensorsBuilder.F32("x", [1], 2)]);
        var e = Assert.Throws<ModelFormatException>(() => Checkpoint.Open(temp.Path));
        Assert.Contains("'x'", e.Message, StringComparison.Ordinal);
        Assert.Contains(temp.File("a.safetensors"), e.Message, StringComparison.Ordinal);
        Assert.Contains(temp.File("b.safetensors"), e.Message, StringComparison.Ordinal);
    }
}
