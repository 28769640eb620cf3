using Fathom.Backends.Cuda;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>
/// Overlapping launches (programmatic dependent launch, Hopper and newer) only move when kernels start:
/// every kernel still waits for its inputs, so prefill, batched and graph-replayed decode steps give the
/// same bits with and without it. A kernel that read its predecessor's output before waiting would show
/// here as differing (or run-to-run changing) logits.
/// </summary>
public sealed class ProgrammaticLaunchTests
{
    public static TheoryData<string> Cases => new(GoldenCase.All);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void OverlappedLaunchesGiveTheSameBits(string name)
    {
        using var golden = new GoldenCase(name);
        using var model = LoadedModel.Load(golden.ModelDirectory);
        float[] plain = Run(model, golden, overlap: false, out bool usedPlain);
        float[] overlapped = Run(model, golden, overlap: true, out bool used);
        Assert.False(usedPlain);
        Assert.Equal(plain.Length, overlapped.Length);
        for (int i = 0; i < plain.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(plain[i]) != BitConverter.SingleToInt32Bits(overlapped[i]))
            {
                Assert.Fail($"{name} (overlap {(used ? "on" : "not supported by this GPU")}): logit {i} is {overlapped[i]:R} with overlapped launches, {plain[i]:R} without");
            }
        }
    }

    public static TheoryData<string, string> Layouts
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string name in GoldenCase.All)
            {
                data.Add(name, "one-row");
                data.Add(name, "router-norm");
                data.Add(name, "token-slices");
            }

            return data;
        }
    }

    /// <summary>
    /// The launch layouts that only regroup work give the bits of the plain ones: one weight row per warp
    /// (a row's sum keeps its lanes and chunks), the FFN norm inside the router launch (rmsnorm's
    /// arithmetic) and products of few rows with their tokens sliced over grid rows (each (row, token) sum
    /// computed as in one slice), through prefill, graph-replayed decode and a batch of two.
    /// </summary>
    [CudaTheory]
    [MemberData(nameof(Layouts))]
    public void RegroupedLaunchesGiveTheSameBits(string name, string layout)
    {
        using var golden = new GoldenCase(name);
        using var model = LoadedModel.Load(golden.ModelDirectory);
        var plain = Run(model, golden, new CudaOptions { OneRowProducts = false, NormInRouter = false, TokenSlices = false }, out _);
        var regrouped = Run(
            model,
            golden,
            new CudaOptions { OneRowProducts = layout == "one-row", NormInRouter = layout == "router-norm", TokenSlices = layout == "token-slices" },
            out _);
        Assert.Equal(plain.Length, regrouped.Length);
        for (int i = 0; i < plain.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(plain[i]) != BitConverter.SingleToInt32Bits(regrouped[i]))
            {
                Assert.Fail($"{name} ({layout}): logit {i} is {regrouped[i]:R}, {plain[i]:R} without it");
            }
        }
    }

    private static float[] Run(LoadedModel model, GoldenCase golden, bool overlap, out bool used) =>
        Run(model, golden, new CudaOptions { ProgrammaticLaunch = overlap }, out used);

    /// <summary>A 60-token prefill, 40 single-token decode steps (graph replays), then a batch of two decode rows.</summary>
    private static float[] Run(LoadedModel model, GoldenCase golden, CudaOptions options, out bool used)
    {
        using var gpu = new CudaTransformer(model, options with
        {
            Bf16Activations = false,
            MaxChunkTokens = 64,
            KvCacheTokens = 4096,
            KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels"),
        });
        used = gpu.ProgrammaticLaunch;
        int vocab = model.Config.VocabSize;
        int[] ids = golden.Sequences[3].Ids;
        var output = new List<float>();
        var logits = new float[vocab];
        using var cache = gpu.CreateCache(ids.Length);
        gpu.Forward(ids.AsSpan(0, 60), cache, logits);
        output.AddRange(logits);
        for (int i = 60; i < 100; i++)
        {
            gpu.Forward(ids.AsSpan(i, 1), cache, logits);
            output.AddRange(logits);
        }

        using var other = gpu.CreateCache(ids.Length);
        gpu.Forward(ids.AsSpan(0, 30), other, logits);
        var pair = new float[2 * vocab];
        gpu.Forward([new BatchEntry(ids.AsMemory(100, 1), cache), new BatchEntry(ids.AsMemory(30, 1), other)], pair);
        output.AddRange(pair);
        return [.. output];
    }
}
