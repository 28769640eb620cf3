using Fathom.Core;
using Fathom.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Fathom.Model.Tests;

/// <summary>
/// Quantized weights on the GPU: INT8 (w8a8_int8) and AWQ INT4 checkpoints written by the reference script
/// (widened exactly at upload), and weights quantized to FP8 at load time (`--quantize fp8`, the LM head
/// included), which the GPU takes like a checkpoint shipped in FP8. Either way the float32 GPU pass gives
/// the CPU pass's logits on the same weights.
/// </summary>
public sealed class QuantizedWeightsGpuTests(ITestOutputHelper output)
{
    public static TheoryData<string> StoredCases => new() { "tiny-v3-int8", "tiny-v3-awq" };

    public static TheoryData<string> Fp8AtLoadCases => new() { "tiny-v3", "tiny-v3-fp8", "tiny-v2-lite" };

    [CudaTheory]
    [MemberData(nameof(StoredCases))]
    public void StoredIntegerCheckpointsGiveTheCpuLogits(string name)
    {
        using var model = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase(name), "model"));
        AssertGpuEqualsCpu(model, name);
    }

    [CudaTheory]
    [MemberData(nameof(Fp8AtLoadCases))]
    public void WeightsQuantizedToFp8AtLoadGiveTheCpuLogits(string name)
    {
        using var model = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase(name), "model"), new LoadOptions { Quantize = DType.F8E4M3 });
        Assert.Equal(DType.F8E4M3, model.Weights.LmHead.Type);
        AssertGpuEqualsCpu(model, $"{name} fp8 at load");
    }

    private void AssertGpuEqualsCpu(LoadedModel model, string name)
    {
        int vocab = model.Config.VocabSize;
        int[] ids = [.. Enumerable.Range(0, 33).Select(i => ((i * 37) + 11) % vocab)];
        var expected = Logits(model, TestDevice.Cpu, ids, vocab);
        var actual = Logits(model, TestDevice.CudaF32, ids, vocab);
        double error = GoldenCase.WorstRowError(actual, expected, vocab);
        output.WriteLine($"{name}: worst relative row error GPU vs CPU {error:E2}");
        Assert.True(error <= 1e-4, $"{name}: GPU logits differ from the CPU pass by {error:E3}");
    }

    private static float[] Logits(LoadedModel model, TestDevice device, int[] ids, int vocab)
    {
        var (pass, lifetime) = TestForwardPass.Create(model, device);
        using (lifetime)
        {
            var logits = new float[ids.Length * vocab];
            using var cache = pass.CreateCache(ids.Length);
            pass.Forward(ids, cache, logits, LogitsSelection.All);
            return logits;
        }
    }
}
