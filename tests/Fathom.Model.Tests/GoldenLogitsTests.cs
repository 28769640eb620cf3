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
