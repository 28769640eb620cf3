using Fathom.Model;
using Fathom.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Fathom.Model.Tests;

/// <summary>
/// Every golden checkpoint's logits against Hugging Face transformers' float64 ones: the float32 paths
/// (CPU and GPU) within 1e-4, the GPU's tensor-core path (activations as bf16 pairs) within 2e-2.
/// </summary>
public sealed class GoldenLogitsTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new(GoldenCase.All);

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryPositionMatchesTheReference(string name) => Check(name, TestDevice.Cpu, 1e-4);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void EveryPositionMatchesTheReferenceOnTheGpu(string name) => Check(name, TestDevice.CudaF32, 1e-4);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void Bf16ActivationsOnTheGpuStayWithinTolerance(string name) => Check(name, TestDevice.CudaBf16, 2e-2);

    /// <summary>
    /// The tensor-core path (dense products and, for passes of 32+ rows, the grouped experts) against the
    /// float32 streaming path on the same GPU: bf16 pairs keep ~16 bits, so every row within 1e-4.
    /// </summary>
    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void TensorCorePassEqualsTheFloat32PassOnTheGpu(string name)
    {
        using var golden = new GoldenCase(name);
        using var precise = golden.Open(device: TestDevice.CudaF32);
        using var fast = golden.Open(device: TestDevice.CudaBf16);
        int vocab = precise.Vocab;
        foreach (var (tensor, ids) in golden.Sequences)
        {
            var a = new float[ids.Length * vocab];
            var b = new float[ids.Length * vocab];
            using (var cache = precise.Forward.CreateCache(ids.Length))
            {
                precise.Forward.Forward(ids, cache, a, LogitsSelection.All);
            }

            using (var cache = fast.Forward.CreateCache(ids.Length))
            {
                fast.Forward.Forward(ids, cache, b, LogitsSelection.All);
            }

            double error = GoldenCase.WorstRowError(b, a, vocab);
            output.WriteLine($"{name} {tensor} (len {ids.Length}): tensor-core vs float32 worst relative error {error:E2}");
            Assert.True(error <= 1e-4, $"{name} {tensor}: tensor-core pass differs from the float32 pass by {error:E3}");
        }
    }

    private void Check(string name, TestDevice device, double tolerance)
    {
        using var golden = new GoldenCase(name);
        using var run = golden.Open(device: device);
        var model = run.Model;
        var transformer = run.Forward;
        int vocab = model.Config.VocabSize;
        foreach (var (tensor, ids) in golden.Sequences)
        {
            var logits = new float[ids.Length * vocab];
            using var cache = transformer.CreateCache(ids.Length);
            transformer.Forward(ids, cache, logits, LogitsSelection.All);
            var reference = golden.Logits(tensor);
            double error = GoldenCase.WorstRowError(logits, reference, vocab);
            var rows = Enumerable.Range(0, ids.Length)
                .Select(r => GoldenCase.WorstRowError(logits.AsSpan(r * vocab, vocab), reference.AsSpan(r * vocab, vocab), vocab))
                .Order()
                .ToArray();
            output.WriteLine($"{name} {device} {tensor} (len {ids.Length}): worst relative error {error:E2}, median {rows[rows.Length / 2]:E2}, rows above 2e-2: {rows.Count(e => e > 2e-2)}");
            Assert.True(error <= tolerance, $"{name} {device} {tensor}: relative error {error:E3} > {tolerance:E0}");
        }
    }
}
