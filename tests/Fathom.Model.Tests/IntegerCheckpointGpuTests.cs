using Fathom.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Fathom.Model.Tests;

/// <summary>
/// INT8 (w8a8_int8) and AWQ INT4 checkpoints written by the reference script run on the GPU: their
/// weights are widened exactly at upload, so the float32 GPU pass gives the CPU pass's logits.
/// </summary>
public sealed class IntegerCheckpointGpuTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new() { "tiny-v3-int8", "tiny-v3-awq" };

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void GpuLogitsEqualTheCpuPass(string name)
    {
        using var model = LoadedModel.Load(Path.Combine(TestPaths.GoldenCase(name), "model"));
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
