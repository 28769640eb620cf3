using System.Text.Json.Nodes;
using Fathom.Backends.Cpu;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>Weights read into anonymous memory behave exactly like mapped ones: same logits, same errors.</summary>
public sealed class InMemoryResidencyTests
{
    private static readonly LoadOptions InMemory = new() { Residency = WeightResidency.InMemory };

    [Theory]
    [InlineData("tiny-v3")]
    [InlineData("tiny-v3-fp8")]
    [InlineData("tiny-v2-lite")]
    public void InMemoryLoadGivesBitIdenticalLogits(string name)
    {
        string directory = Path.Combine(TestPaths.GoldenCase(name), "model");
        int[] ids = [0, 17, 300, 5, 511, 42, 1, 9];
        var mapped = Logits(directory, LoadOptions.Default, ids, out var mappedResidency);
        var memory = Logits(directory, InMemory, ids, out var memoryResidency);
        Assert.Equal(WeightResidency.Mapped, mappedResidency);
        Assert.Equal(WeightResidency.InMemory, memoryResidency);
        Assert.Equal(mapped.Length, memory.Length);
        for (int i = 0; i < mapped.Length; i++)
        {
            Assert.True(
                BitConverter.SingleToInt32Bits(mapped[i]) == BitConverter.SingleToInt32Bits(memory[i]),
                $"logit {i}: {memory[i]:R} in memory vs {mapped[i]:R} mapped");
        }
    }

    [Fact]
    public void ShardsOfAnIndexAreReadIntoMemoryToo()
    {
        using var dir = new TempDirectory();
        string source = Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model");
        var tensors = SafeTensorsBuilder.Read(Path.Combine(source, "model.safetensors"));
        int half = tensors.Count / 2;
        SafeTensorsBuilder.Write(dir.File("a.safetensors"), tensors.Take(half));
        SafeTensorsBuilder.Write(dir.File("b.safetensors"), tensors.Skip(half));
        var map = new JsonObject();
        foreach (var (t, i) in tensors.Select((t, i) => (t, i)))
        {
            map[t.Name] = i < half ? "a.safetensors" : "b.safetensors";
        }

        File.WriteAllText(dir.File("model.safetensors.index.json"), new JsonObject { ["weight_map"] = map }.ToJsonString());
        File.Copy(Path.Combine(source, "config.json"), dir.File("config.json"));

        int[] ids = [3, 1, 4, 1, 5, 9, 2, 6];
        var expected = Logits(source, LoadOptions.Default, ids, out _);
        var actual = Logits(dir.Path, InMemory, ids, out var residency);
        Assert.Equal(WeightResidency.InMemory, residency);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void TruncatedFilesFailWithTheSameMessageInBothResidencies()
    {
        using var dir = new TempDirectory();
        byte[] whole = File.ReadAllBytes(Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model", "model.safetensors"));
        long headerEnd = 8 + BitConverter.ToInt64(whole, 0);
        // Inside the length prefix, inside the header, just after it, and one byte short of the end.
        long[] cuts = [0, 5, 8, 100, headerEnd - 1, headerEnd, headerEnd + 1000, whole.Length - 1];
        foreach (long cut in cuts)
        {
            string path = dir.File($"cut-{cut}.safetensors");
            File.WriteAllBytes(path, whole.AsSpan(0, (int)cut).ToArray());
            var mapped = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path, WeightResidency.Mapped));
            var memory = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path, WeightResidency.InMemory));
            Assert.Equal(mapped.Message, memory.Message);
            Assert.Contains(path, memory.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void MissingFileFailsTheSameWay()
    {
        using var dir = new TempDirectory();
        string path = dir.File("absent.safetensors");
        var mapped = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path, WeightResidency.Mapped));
        var memory = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path, WeightResidency.InMemory));
        Assert.Equal(mapped.Message, memory.Message);
    }

    [Fact]
    public unsafe void AnonymousMemoryIsHugePageAlignedAndWritable()
    {
        using var memory = new AnonymousMemory(3 * 1024 * 1024 + 5);
        Assert.Equal(0UL, (ulong)memory.Pointer % AnonymousMemory.Alignment);
        Assert.Equal((3 * 1024 * 1024) + 5, memory.Length);
        memory.Pointer[memory.Length - 1] = 42;
        Assert.Equal(42, memory.Pointer[memory.Length - 1]);
        memory.Dispose();
        Assert.Throws<ObjectDisposedException>(() => (ulong)memory.Pointer);
    }

    private static float[] Logits(string directory, LoadOptions options, int[] ids, out WeightResidency residency)
    {
        using var model = LoadedModel.Load(directory, options);
        using var backend = new CpuBackend(2);
        residency = model.Checkpoint.Files.Select(f => f.Residency).Distinct().Single();
        var transformer = new Transformer(model, backend);
        var logits = new float[ids.Length * model.Config.VocabSize];
        transformer.Forward(ids, transformer.CreateCache(ids.Length), logits, LogitsSelection.All);
        return logits;
    }
}
