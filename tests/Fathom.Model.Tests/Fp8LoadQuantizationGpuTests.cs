using Fathom.Core;
using Fathom.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Fathom.Model.Tests;

/// <summary>
/// Weights quantized to FP8 at load time (`--quantize fp8`) run on the GPU like a checkpoint shipped in FP8:
/// the float32 GPU pass gives the CPU pass's logits on the same quantized weights, the LM head in FP8 included.
/// </summary>
public sealed class Fp8LoadQuantizationGpuTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new() { "tiny-v3", "tiny-v3-fp8", "tiny-v2-lite" };

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void GpuLogitsEqualTheCpuPass(string name)
    {
        using var model = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase(name), "model"), new LoadOptions { Quantize = DType.F8E4M3 });
        Assert.Equal(DType.F8E4M3, model.Weights.LmHead.Type);
        int vocab = model.Config.VocabSize;
        int[] ids = [.. Enumerable.Range(0, 33).Select(i => ((i * 37) + 11) % vocab)];
        var expected = Logits(model, TestDevice.Cpu, ids, vocab);
        var actual = Logits(model, TestDevice.CudaF32, ids, vocab);
        double error = GoldenCase.WorstRowError(actual, expected, vocab);
        output.WriteLine($"{name} fp8 at load: worst relative row error GPU vs CPU {error:E2}");
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
