using System.Runtime.InteropServices;
using System.Text.Json;
using Fathom.Backends.Cpu;
using Fathom.Core;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>Random-weight checkpoints: presets, the tensor plan, sharding, and that what is written loads and runs.</summary>
public sealed class RandomCheckpointTests
{
    [Fact]
    public void TheStandardBenchModelHasDocumentedSize()
    {
        // docs/benchmarking.md: 6 layers shaped like V2-Lite, vocab 129280, untied head: 3.535 B parameters, 7.07 GB in BF16.
        var plan = Plan(new RandomCheckpointOptions { Shape = RandomCheckpointShape.V2Lite, Layers = 6 });
        Assert.Equal(3_534_779_392, plan.Parameters);
        Assert.Equal(2 * 3_534_779_392L, plan.Bytes);
        Assert.Equal(129280, plan.Config.VocabSize);
        Assert.False(plan.Config.TieWordEmbeddings);
        Assert.Contains(plan.Tensors, t => t.Name == TensorNames.LmHead && t.Shape.SequenceEqual([129280, 2048]));
    }

    [Fact]
    public void V2LiteConfigHasTheReleasedValues()
    {
        var options = new RandomCheckpointOptions { Shape = RandomCheckpointShape.V2Lite, Layers = 6, Vocab = 102400 };
        using var dir = new TempDirectory();
        var c = WriteConfig(dir, options);
        Assert.Equal("deepseek_v2", c.ModelType);
        Assert.Equal(2048, c.HiddenSize);
        Assert.Equal(10944, c.IntermediateSize);
        Assert.Equal(1408, c.MoeIntermediateSize);
        Assert.Equal(6, c.NumHiddenLayers);
        Assert.Equal(1, c.FirstKDenseReplace);
        Assert.Equal(16, c.NumAttentionHeads);
        Assert.Null(c.QLoraRank);
        Assert.Equal(512, c.KvLoraRank);
        Assert.Equal(128, c.QkNopeHeadDim);
        Assert.Equal(64, c.QkRopeHeadDim);
        Assert.Equal(128, c.VHeadDim);
        Assert.Equal((64, 2, 6), (c.NRoutedExperts, c.NSharedExperts, c.NumExpertsPerTok));
        Assert.Equal((1, 1), (c.NGroup, c.TopKGroup));
        Assert.Equal(ScoringFunction.Softmax, c.ScoringFunc);
        Assert.Equal(TopKMethod.Greedy, c.TopKMethod);
        Assert.False(c.NormTopKProb);
        Assert.Equal(1.0, c.RoutedScalingFactor);
        Assert.Equal(102400, c.VocabSize);
        Assert.Equal(163840, c.MaxPositionEmbeddings);
        Assert.Equal(new YarnScaling(40, 4096, 32, 1, 0.707, 0.707, null, true), c.RopeScaling);
        Assert.Equal(1e-6, c.RmsNormEps);
        Assert.Equal(100000, c.BosTokenId);
        Assert.Equal([100001], c.EosTokenIds);
        Assert.Null(c.Quantization);

        using var json = JsonDocument.Parse(File.ReadAllText(dir.File("config.json")));
        Assert.Equal("DeepseekV2ForCausalLM", json.RootElement.GetProperty("architectures")[0].GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("q_lora_rank").ValueKind);
        Assert.Equal("yarn", json.RootElement.GetProperty("rope_scaling").GetProperty("type").GetString());
        var keys = json.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(keys.Order(StringComparer.Ordinal), keys);
    }

    [Fact]
    public void V2LitePresetDefaultsToTheBenchVocabulary()
    {
        Assert.Equal(129280, new RandomCheckpointOptions { Shape = RandomCheckpointShape.V2Lite }.ResolvedVocab);
        Assert.Equal(27, new RandomCheckpointOptions { Shape = RandomCheckpointShape.V2Lite }.ResolvedLayers);
    }

    [Fact]
    public void SmallVocabulariesUseZeroAndOneAsSpecialIds()
    {
        using var dir = new TempDirectory();
        var c = WriteConfig(dir, new RandomCheckpointOptions { Shape = RandomCheckpointShape.V2Lite, Layers = 1, Vocab = 1024 });
        Assert.Equal(0, c.BosTokenId);
        Assert.Equal([1], c.EosTokenIds);
    }

    [Fact]
    public void V3ConfigAndFp8PlanFollowTheRelease()
    {
        var options = new RandomCheckpointOptions { Shape = RandomCheckpointShape.V3, Layers = 4, WeightType = DType.F8E4M3 };
        using var dir = new TempDirectory();
        var c = WriteConfig(dir, options);
        Assert.Equal(("deepseek_v3", 7168, 1536, 128, 3), (c.ModelType, c.HiddenSize, c.QLoraRank!.Value, c.NumAttentionHeads, c.FirstKDenseReplace));
        Assert.Equal((256, 1, 8, 8, 4), (c.NRoutedExperts, c.NSharedExperts, c.NumExpertsPerTok, c.NGroup, c.TopKGroup));
        Assert.Equal((ScoringFunction.Sigmoid, TopKMethod.NoAuxTc, true, 2.5), (c.ScoringFunc, c.TopKMethod, c.NormTopKProb, c.RoutedScalingFactor));
        Assert.Equal(new Fp8Quantization(128, 128, "dynamic"), c.Quantization);

        var plan = RandomCheckpointPlan.Create(c, DType.F8E4M3);
        var byName = plan.Tensors.ToDictionary(t => t.Name);
        // docs/deepseek-architecture.md §2.1: shapes, FP8 weights with [rows/128, cols/128] F32 scales, BF16 router, F32 bias.
        Assert.Equal([24576, 1536], byName[TensorNames.QB(0)].Shape);
        Assert.Equal(DType.F8E4M3, byName[TensorNames.QB(0)].Type);
        Assert.Equal([192, 12], byName[TensorNames.QB(0) + TensorNames.ScaleSuffix].Shape);
        Assert.Equal([5, 56], byName[TensorNames.KvA(0) + TensorNames.ScaleSuffix].Shape);
        Assert.Equal([16, 56], byName[TensorNames.Expert(3, 255, TensorNames.Gate) + TensorNames.ScaleSuffix].Shape);
        Assert.Equal(DType.BF16, byName[TensorNames.Router(3)].Type);
        Assert.Equal(DType.F32, byName[TensorNames.RouterBias(3)].Type);
        Assert.Equal(DType.BF16, byName[TensorNames.Embed].Type);
        Assert.Equal(DType.BF16, byName[TensorNames.LmHead].Type);
        Assert.False(byName.ContainsKey(TensorNames.Router(2)));
        Assert.All(plan.Tensors.Where(t => t.Type == DType.F8E4M3), t => Assert.True(byName.ContainsKey(t.Name + TensorNames.ScaleSuffix)));
    }

    [Fact]
    public void ShardsRespectTheLimitAndKeepScalesWithTheirWeights()
    {
        var plan = Plan(new RandomCheckpointOptions { Shape = RandomCheckpointShape.Tiny, WeightType = DType.F8E4M3 });
        const long limit = 200_000;
        var shards = plan.Shards(limit);
        Assert.True(shards.Count > 3);
        Assert.Equal(plan.Tensors.Select(t => t.Name), shards.SelectMany(s => s).Select(t => t.Name));
        foreach (var shard in shards)
        {
            Assert.True(shard.Count == 1 || shard.Count == 2 || shard.Sum(t => t.ByteLength) <= limit);
            Assert.False(shard[0].Name.EndsWith(TensorNames.ScaleSuffix, StringComparison.Ordinal));
        }

        Assert.Single(plan.Shards(long.MaxValue));
    }

    [Fact]
    public void SamplesDoNotDependOnHowTheTensorIsCut()
    {
        foreach (var type in new[] { DType.BF16, DType.F8E4M3 })
        {
            var tensor = new RandomCheckpointTensor("w", type, [1001], RandomCheckpointFill.Normal, 0.02);
            ulong seed = RandomCheckpointSampler.TensorSeed(7, tensor.Name);
            var whole = new byte[tensor.ByteLength];
            RandomCheckpointSampler.Fill(tensor, seed, 0, whole);
            var pieces = new byte[tensor.ByteLength];
            int size = type.Size();
            foreach (var (start, count) in new[] { (0, 3), (3, 1), (4, 9), (13, 500), (513, 488) })
            {
                RandomCheckpointSampler.Fill(tensor, seed, start, pieces.AsSpan(start * size, count * size));
            }

            Assert.Equal(whole, pieces);
            var other = new byte[tensor.ByteLength];
            RandomCheckpointSampler.Fill(tensor, RandomCheckpointSampler.TensorSeed(8, tensor.Name), 0, other);
            Assert.NotEqual(whole, other);
        }
    }

    [Fact]
    public void SamplesHaveTheRequestedDistribution()
    {
        var tensor = new RandomCheckpointTensor("w", DType.BF16, [1 << 20], RandomCheckpointFill.Normal, 0.02);
        var bytes = new byte[tensor.ByteLength];
        RandomCheckpointSampler.Fill(tensor, RandomCheckpointSampler.TensorSeed(1, "w"), 0, bytes);
        var values = MemoryMarshal.Cast<byte, ushort>(bytes).ToArray().Select(b => (double)BFloat16.ToSingle(b)).ToArray();
        double mean = values.Average();
        double std = Math.Sqrt(values.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, -1e-4, 1e-4);
        Assert.InRange(std, 0.0198, 0.0202);

        // FP8 codes times the block scale have the same distribution.
        var fp8 = tensor with { Type = DType.F8E4M3 };
        var codes = new byte[fp8.ByteLength];
        RandomCheckpointSampler.Fill(fp8, RandomCheckpointSampler.TensorSeed(1, "w"), 0, codes);
        float scale = RandomCheckpointSampler.Fp8ScaleFor(0.02);
        double fp8Std = Math.Sqrt(codes.Select(c => Math.Pow(Float8E4M3.ToSingle(c) * scale, 2)).Average());
        Assert.InRange(fp8Std, 0.0196, 0.0204);
    }

    [Theory]
    [InlineData(0.5, 0.0)]
    [InlineData(0.975, 1.9599639845400536)]
    [InlineData(0.025, -1.9599639845400538)]
    [InlineData(0.001, -3.090232306167813)]
    [InlineData(0.9999, 3.7190164854557084)]
    public void InverseNormalMatchesKnownQuantiles(double p, double expected) =>
        Assert.InRange(RandomCheckpointSampler.InverseNormal(p) - expected, -2e-8, 2e-8);

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F8E4M3)]
    public void TinyCheckpointLoadsAndRunsWithFiniteLogits(DType type)
    {
        using var dir = new TempDirectory();
        var written = RandomCheckpointWriter.Write(dir.Path, new RandomCheckpointOptions { Shape = RandomCheckpointShape.Tiny, WeightType = type, Seed = 3 });
        Assert.Single(written.Files);
        Assert.Equal(new FileInfo(written.Files[0]).Length - HeaderBytes(written.Files[0]), written.Bytes);
        using var model = LoadedModel.Load(dir.Path);
        Assert.Empty(model.Weights.UnusedTensors);
        Assert.Equal(written.Parameters, ModelSummary.Compute(model).TotalParameters);
        var logits = Logits(model, [1, 2, 3, 500, 1023]);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
        // Random weights of std 0.02 keep activations of order one: logits neither vanish nor explode.
        double rms = Math.Sqrt(logits.Average(v => (double)v * v));
        Assert.InRange(rms, 0.05, 20);
    }

    [Fact]
    public void ShardedAndSingleFileCheckpointsOfOneSeedAreIdentical()
    {
        using var single = new TempDirectory();
        using var sharded = new TempDirectory();
        var options = new RandomCheckpointOptions { Shape = RandomCheckpointShape.Tiny, Seed = 11 };
        RandomCheckpointWriter.Write(single.Path, options);
        var result = RandomCheckpointWriter.Write(sharded.Path, options with { ShardBytes = 500_000 });
        Assert.True(result.Files.Count > 1);
        Assert.True(File.Exists(sharded.File("model.safetensors.index.json")));
        Assert.Equal($"model-00001-of-{result.Files.Count:D5}.safetensors", Path.GetFileName(result.Files[0]));
        using var a = LoadedModel.Load(single.Path);
        using var b = LoadedModel.Load(sharded.Path);
        Assert.Equal(result.Files.Count, b.Checkpoint.Files.Count);
        Assert.Equal(Logits(a, [5, 6, 7]), Logits(b, [5, 6, 7]));
    }

    [Fact]
    public void AFolderHoldingAModelIsOnlyReplacedWhenAsked()
    {
        using var dir = new TempDirectory();
        var options = new RandomCheckpointOptions { Shape = RandomCheckpointShape.Tiny };
        RandomCheckpointWriter.Write(dir.Path, options with { ShardBytes = 500_000 });
        var e = Assert.Throws<IOException>(() => RandomCheckpointWriter.Write(dir.Path, options));
        Assert.Contains("--force", e.Message, StringComparison.Ordinal);
        RandomCheckpointWriter.Write(dir.Path, options, overwrite: true);
        // The old shards and index are gone, so the folder is one consistent checkpoint again.
        Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using var model = LoadedModel.Load(dir.Path);
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new RandomCheckpointOptions { Shape = RandomCheckpointShape.Tiny, Layers = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new RandomCheckpointOptions { Shape = RandomCheckpointShape.Tiny, Vocab = 1 }.Validate());
        Assert.Throws<ArgumentException>(() => new RandomCheckpointOptions { Shape = RandomCheckpointShape.Tiny, WeightType = DType.F32 }.Validate());
        Assert.Throws<ArgumentException>(() => new RandomCheckpointOptions { Shape = RandomCheckpointShape.Tiny, ShardBytes = 0 }.Validate());
    }

    private static RandomCheckpointPlan Plan(RandomCheckpointOptions options)
    {
        using var dir = new TempDirectory();
        return RandomCheckpointPlan.Create(WriteConfig(dir, options), options.WeightType);
    }

    private static ModelConfig WriteConfig(TempDirectory dir, RandomCheckpointOptions options)
    {
        File.WriteAllText(dir.File("config.json"), options.ToConfigJson().ToJsonString());
        return ModelConfig.Load(dir.File("config.json"));
    }

    private static long HeaderBytes(string path)
    {
        using var stream = File.OpenRead(path);
        var length = new byte[8];
        stream.ReadExactly(length);
        return 8 + BitConverter.ToInt64(length);
    }

    private static float[] Logits(LoadedModel model, int[] ids)
    {
        using var backend = new CpuBackend(2);
        var transformer = new Transformer(model, backend);
        var logits = new float[ids.Length * model.Config.VocabSize];
        transformer.Forward(ids, transformer.CreateCache(ids.Length), logits, LogitsSelection.All);
        return logits;
    }
}
