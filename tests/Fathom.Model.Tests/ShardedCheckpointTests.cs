using System.Text.Json.Nodes;
using Fathom.Backends.Cpu;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>Checkpoints split into shards by model.safetensors.index.json: loading, and every way the index can be wrong.</summary>
public sealed class ShardedCheckpointTests
{
    private const string First = "model-00001-of-00002.safetensors";
    private const string Second = "model-00002-of-00002.safetensors";

    [Fact]
    public void ShardedGoldenModelGivesBitIdenticalLogits()
    {
        using var sharded = new TempDirectory();
        var tensors = SafeTensorsBuilder.Read(Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model", "model.safetensors"));
        var (first, second) = Split(tensors);
        SafeTensorsBuilder.Write(sharded.File(First), first);
        SafeTensorsBuilder.Write(sharded.File(Second), second);
        WriteIndex(sharded, first.Select(t => (t.Name, First)).Concat(second.Select(t => (t.Name, Second))));
        File.Copy(Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model", "config.json"), sharded.File("config.json"));

        int[] ids = [0, 17, 300, 5, 511, 42, 1];
        var expected = Logits(Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model"), ids, out int expectedFiles);
        var actual = Logits(sharded.Path, ids, out int actualFiles);
        Assert.Equal(1, expectedFiles);
        Assert.Equal(2, actualFiles);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(
                BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"logit {i}: {actual[i]:R} sharded vs {expected[i]:R} single-file");
        }
    }

    [Fact]
    public void IndexNamingAMissingShardFails()
    {
        using var dir = TwoShards(out var index);
        index["model.norm.weight"] = "model-00003-of-00003.safetensors";
        WriteIndex(dir, index);
        var e = OpenFails(dir);
        Assert.Contains("model-00003-of-00003.safetensors", e.Message, StringComparison.Ordinal);
        Assert.Contains("'model.norm.weight'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IndexMappingATensorToTheWrongShardFails()
    {
        using var dir = TwoShards(out var index);
        string name = index.First(p => p.Value == First).Key;
        index[name] = Second;
        WriteIndex(dir, index);
        var e = OpenFails(dir);
        Assert.Contains($"'{name}'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"mapped to {Second} but found in {First}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IndexNamingATensorNoShardHoldsFails()
    {
        using var dir = TwoShards(out var index);
        index["model.layers.99.mlp.gate.weight"] = First;
        WriteIndex(dir, index);
        var e = OpenFails(dir);
        Assert.Contains("'model.layers.99.mlp.gate.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not contain it", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../x.safetensors")]
    [InlineData("sub/x.safetensors")]
    [InlineData("..\\x.safetensors")]
    [InlineData("/etc/passwd")]
    public void ShardNameOutsideTheModelFolderFails(string shard)
    {
        using var dir = TwoShards(out var index);
        index["model.norm.weight"] = shard;
        WriteIndex(dir, index);
        var e = OpenFails(dir);
        Assert.Contains("'model.norm.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains(shard, e.Message, StringComparison.Ordinal);
        Assert.Contains("must be a file in the model folder", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TensorInTwoShardsFails()
    {
        using var dir = new TempDirectory();
        SafeTensorsBuilder.Write(dir.File(First), [SafeTensorsBuilder.F32("a", [1], 1), SafeTensorsBuilder.F32("b", [1], 2)]);
        SafeTensorsBuilder.Write(dir.File(Second), [SafeTensorsBuilder.F32("b", [1], 2), SafeTensorsBuilder.F32("c", [1], 3)]);
        WriteIndex(dir, [("a", First), ("b", First), ("c", Second)]);
        var e = OpenFails(dir);
        Assert.Contains("'b'", e.Message, StringComparison.Ordinal);
        Assert.Contains(dir.File(First), e.Message, StringComparison.Ordinal);
        Assert.Contains(dir.File(Second), e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"weight_map\": ")]
    [InlineData("{\"metadata\": {}}")]
    [InlineData("{\"weight_map\": {\"a\": 3}}")]
    [InlineData("[\"weight_map\"]")]
    public void MalformedIndexFails(string text)
    {
        using var dir = TwoShards(out _);
        File.WriteAllText(dir.File("model.safetensors.index.json"), text);
        OpenFails(dir);
    }

    private static ModelFormatException OpenFails(TempDirectory dir)
    {
        var e = Assert.Throws<ModelFormatException>(() => Checkpoint.Open(dir.Path).Dispose());
        Assert.Contains(dir.Path, e.Message, StringComparison.Ordinal);
        return e;
    }

    /// <summary>A small two-shard checkpoint and its (editable) weight map.</summary>
    private static TempDirectory TwoShards(out Dictionary<string, string> index)
    {
        var dir = new TempDirectory();
        TensorBytes[] first = [SafeTensorsBuilder.F32("model.embed_tokens.weight", [2, 2], 1, 2, 3, 4), SafeTensorsBuilder.F32("lm_head.weight", [2, 2], 5, 6, 7, 8)];
        TensorBytes[] second = [SafeTensorsBuilder.F32("model.norm.weight", [2], 1, 1)];
        SafeTensorsBuilder.Write(dir.File(First), first);
        SafeTensorsBuilder.Write(dir.File(Second), second);
        index = first.Select(t => (t.Name, First)).Concat(second.Select(t => (t.Name, Second))).ToDictionary(p => p.Name, p => p.Item2, StringComparer.Ordinal);
        WriteIndex(dir, index);
        using (var checkpoint = Checkpoint.Open(dir.Path))
        {
            Assert.Equal(3, checkpoint.Tensors.Count);
        }

        return dir;
    }

    private static void WriteIndex(TempDirectory dir, IEnumerable<KeyValuePair<string, string>> map) =>
        WriteIndex(dir, map.Select(p => (p.Key, p.Value)));

    private static void WriteIndex(TempDirectory dir, IEnumerable<(string Tensor, string Shard)> map)
    {
        var weightMap = new JsonObject();
        foreach (var (tensor, shard) in map)
        {
            weightMap[tensor] = shard;
        }

        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = 0 }, ["weight_map"] = weightMap };
        File.WriteAllText(dir.File("model.safetensors.index.json"), index.ToJsonString());
    }

    /// <summary>Every other tensor to the second shard, so that layers straddle the two files.</summary>
    private static (List<TensorBytes> First, List<TensorBytes> Second) Split(List<TensorBytes> tensors) =>
        ([.. tensors.Where((_, i) => i % 2 == 0)], [.. tensors.Where((_, i) => i % 2 == 1)]);

    private static float[] Logits(string directory, int[] ids, out int files)
    {
        using var model = LoadedModel.Load(directory);
        using var backend = new CpuBackend(2);
        files = model.Checkpoint.Files.Count;
        var transformer = new Transformer(model, backend);
        var logits = new float[ids.Length * model.Config.VocabSize];
        transformer.Forward(ids, transformer.CreateCache(ids.Length), logits, LogitsSelection.All);
        return logits;
    }
}
