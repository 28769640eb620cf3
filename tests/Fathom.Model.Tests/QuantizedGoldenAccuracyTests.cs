using Fathom.Backends.Cpu;
using Fathom.Core;
using Xunit;
using Xunit.Abstractions;

namespace Fathom.Model.Tests;

/// <summary>
/// Weights quantized at load time against Hugging Face's float64 logits (which Fathom's float32 path meets to
/// 1e-6), over all 471 positions of each golden checkpoint. These random-weight models are far more fragile
/// than trained ones: their routers separate experts by ~1e-4 and their logits are nearly flat, so the ~0.7%
/// that a single Q8_0 product (weights and int8 activations) perturbs is enough to flip some expert choices
/// and argmaxes, and those positions dominate the worst case. The bounds are what was measured, with margin
/// (measured values in the comments); the trained demo model is held to tighter ones (QuantizedDemoAccuracyTests).
/// </summary>
public sealed class QuantizedGoldenAccuracyTests(ITestOutputHelper output)
{
    public static TheoryData<string, string, double, double> Cases => new()
    {
        // checkpoint, format, median relative error allowed, top-1 agreement required
        { "tiny-v3", "Q8_0", 0.05, 0.88 },       // median 3.2e-2, p90 2.3e-1, worst 8.2e-1; 431/471 = 91.5%
        { "tiny-v3-fp8", "Q8_0", 0.05, 0.86 },   // median 3.4e-2, p90 9.3e-2, worst 1.1;    423/471 = 89.8%
        { "tiny-v2-lite", "Q8_0", 0.03, 0.93 },  // median 1.8e-2, p90 2.3e-2, worst 1.3e-1; 452/471 = 96.0%
        { "tiny-v3", "Q4K", 0.35, 0.50 },        // median 2.5e-1, p90 5.9e-1, worst 9.3e-1; 269/471 = 57.1%
        { "tiny-v3-fp8", "Q4K", 0.05, 0.86 },    // no width is a multiple of 256: all Q8_0, as above
        { "tiny-v2-lite", "Q4K", 0.20, 0.70 },   // median 1.4e-1, p90 1.7e-1, worst 2.1e-1; 360/471 = 76.4%
        { "tiny-v3", "F8E4M3", 0.15, 0.68 },     // median 1.1e-1, p90 4.2e-1, worst 8.4e-1; 347/471 = 73.7%
        { "tiny-v3-fp8", "F8E4M3", 0.04, 0.92 }, // stored FP8 kept, the head in FP8: median 2.6e-2, worst 3.0e-2; 453/471 = 96.2%
        { "tiny-v2-lite", "F8E4M3", 0.08, 0.83 }, // median 5.9e-2, p90 8.2e-2, worst 1.3e-1; 414/471 = 87.9%
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsStayNearTheFloatPath(string name, string format, double maxMedian, double minAgreement)
    {
        var target = Enum.Parse<DType>(format);
        using var golden = new GoldenCase(name);
        using var backend = new CpuBackend();
        using var model = LoadedModel.Load(golden.ModelDirectory, new LoadOptions { Quantize = target });
        var transformer = new Transformer(model, backend);
        int vocab = model.Config.VocabSize;
        var comparison = new LogitComparison();
        foreach (var (tensor, ids) in golden.Sequences)
        {
            var logits = new float[ids.Length * vocab];
            transformer.Forward(ids, transformer.CreateCache(ids.Length), logits, LogitsSelection.All);
            comparison.Add(logits, golden.Logits(tensor), vocab);
        }

        output.WriteLine($"{name} {format}: {comparison}");
        Assert.True(comparison.Median <= maxMedian, $"{name} {format}: {comparison}");
        Assert.True(comparison.Agreement >= minAgreement, $"{name} {format}: {comparison}");
        Assert.True(comparison.Worst < 2, $"{name} {format}: {comparison}");
    }
}
