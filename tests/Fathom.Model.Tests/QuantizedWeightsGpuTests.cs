using Fathom.Backends.Cuda;
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

    /// <summary>
    /// The tensor-core FP8 products of a 40-token pass (bf16 activations: experts, dense and per-head products)
    /// on inputs prepared as f16 pairs give the logits of the bf16-pair kernels within 2e-3 (both are within the bf16 path's 2e-2 of
    /// the CPU's float32 pass); the logits differ in their bits, so the prepared kernels ran.
    /// </summary>
    [CudaTheory]
    [MemberData(nameof(Fp8AtLoadCases))]
    public void PreparedExpertInputsAgreeWithTheBf16PairKernels(string name)
    {
        using var model = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase(name), "model"), new LoadOptions { Quantize = DType.F8E4M3 });
        int vocab = model.Config.VocabSize;
        int[] ids = [.. Enumerable.Range(0, 40).Select(i => ((i * 53) + 7) % vocab)];
        var cpu = Logits(model, TestDevice.Cpu, ids, vocab);
        var prepared = GpuLogits(model, ids, vocab, prepared: true);
        var pairs = GpuLogits(model, ids, vocab, prepared: false);
        double between = GoldenCase.WorstRowError(prepared, pairs, vocab);
        double preparedError = GoldenCase.WorstRowError(prepared, cpu, vocab), pairsError = GoldenCase.WorstRowError(pairs, cpu, vocab);
        output.WriteLine($"{name}: prepared vs bf16 pairs {between:E2}; against the CPU: prepared {preparedError:E2}, bf16 pairs {pairsError:E2}");
        Assert.False(prepared.AsSpan().SequenceEqual(pairs), $"{name}: the prepared kernels did not run (identical logits)");
        Assert.True(between <= 2e-3, $"{name}: prepared inputs differ from the bf16-pair kernels by {between:E3}");
        Assert.True(preparedError <= 2e-2, $"{name}: prepared inputs differ from the CPU pass by {preparedError:E3}");
    }

    /// <summary>
    /// A stored BF16 LM head over 40 logit rows read once by the tensor-core streaming kernel gives the logits
    /// of cuBLASLt's pair product within 1e-5 (the same bf16 pairs, summed in another order).
    /// </summary>
    [CudaFact]
    public void TensorCoreHeadGivesThePairProductsLogits()
    {
        using var model = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model"));
        Assert.Equal(DType.BF16, model.Weights.LmHead.Type);
        int vocab = model.Config.VocabSize;
        int[] ids = [.. Enumerable.Range(0, 40).Select(i => ((i * 29) + 3) % vocab)];
        var streamed = GpuLogits(model, ids, vocab, prepared: false, mmaHead: true);
        var pairs = GpuLogits(model, ids, vocab, prepared: false, mmaHead: false);
        double between = GoldenCase.WorstRowError(streamed, pairs, vocab);
        output.WriteLine($"tiny-v3: BF16 head on the tensor-core kernel vs cuBLASLt pairs {between:E2}");
        Assert.False(streamed.AsSpan().SequenceEqual(pairs), "the tensor-core head did not run (identical logits)");
        Assert.True(between <= 1e-5, $"the tensor-core BF16 head differs from cuBLASLt's pair product by {between:E3}");
    }

    private static float[] GpuLogits(LoadedModel model, int[] ids, int vocab, bool prepared, bool mmaHead = false)
    {
        using var gpu = new CudaTransformer(model, new CudaOptions
        {
            MaxChunkTokens = 64,
            KvCacheTokens = 4096,
            MmaPreparedInputs = prepared,
            MmaPreparedDense = prepared,
            MmaBf16Head = mmaHead,
            KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels"),
        });
        var logits = new float[ids.Length * vocab];
        using var cache = gpu.CreateCache(ids.Length);
        gpu.Forward(ids, cache, logits, LogitsSelection.All);
        return logits;
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
