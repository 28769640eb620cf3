using System.Runtime.InteropServices;
using System.Text.Json;
using Fathom.Backends.Cpu;
using Fathom.Model;
using Fathom.TestSupport;

namespace Fathom.Model.Tests;

/// <summary>A golden case of tests/TestData: the tiny checkpoint, its inputs and Hugging Face's float64 logits.</summary>
public sealed class GoldenCase : IDisposable
{
    private readonly SafeTensorsFile _reference;

    public GoldenCase(string name)
    {
        Name = name;
        string folder = TestPaths.GoldenCase(name);
        ModelDirectory = Path.Combine(folder, "model");
        // golden.json writes an unreachable margin as the bare literal Infinity, which JSON does not allow.
        string json = File.ReadAllText(Path.Combine(folder, "golden.json")).Replace("Infinity", "1e308", StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json);
        Sequences = [.. doc.RootElement.GetProperty("sequences").EnumerateArray()
            .Select(s => (s.GetProperty("tensor").GetString()!, Ids(s.GetProperty("input_ids"))))];
        Greedy = [.. doc.RootElement.GetProperty("greedy").EnumerateArray()
            .Select(s => (s.GetProperty("tensor").GetString()!, Ids(s.GetProperty("prompt")), Ids(s.GetProperty("output_ids"))))];
        _reference = SafeTensorsFile.Open(Path.Combine(folder, "golden.safetensors"));
    }

    public string Name { get; }

    public string ModelDirectory { get; }

    public IReadOnlyList<(string Tensor, int[] Ids)> Sequences { get; }

    public IReadOnlyList<(string Tensor, int[] Prompt, int[] Output)> Greedy { get; }

    public float[] Logits(string tensor) => MemoryMarshal.Cast<byte, float>(_reference.Bytes(_reference.Tensors[tensor])).ToArray();

    public static string[] All => ["tiny-v3", "tiny-v3-fp8", "tiny-v2-lite"];

    /// <summary>max over positions of ||a - b|| / ||b|| per row of width <paramref name="vocab"/>.</summary>
    public static double WorstRowError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, int vocab)
    {
        double worst = 0;
        for (int r = 0; r < expected.Length / vocab; r++)
        {
            double diff = 0, norm = 0;
            for (int v = 0; v < vocab; v++)
            {
                double e = expected[(r * vocab) + v];
                double d = actual[(r * vocab) + v] - e;
                diff += d * d;
                norm += e * e;
            }

            worst = Math.Max(worst, Math.Sqrt(diff / norm));
        }

        return worst;
    }

    /// <summary>The case's model loaded on a fresh CPU backend, or on the GPU for a CUDA <paramref name="device"/>.</summary>
    public GoldenRun Open(int maxChunkTokens = 256, TestDevice device = TestDevice.Cpu) => new(ModelDirectory, maxChunkTokens, device);

    private static int[] Ids(JsonElement e) => [.. e.EnumerateArray().Select(x => x.GetInt32())];

    public void Dispose() => _reference.Dispose();
}

/// <summary>A golden checkpoint loaded for a test: model and forward pass (CPU or GPU), disposed together.</summary>
public sealed class GoldenRun : IDisposable
{
    private readonly IDisposable _lifetime;

    public GoldenRun(string modelDirectory, int maxChunkTokens, TestDevice device = TestDevice.Cpu)
    {
        Model = LoadedModel.Load(modelDirectory);
        (Forward, _lifetime) = TestForwardPass.Create(Model, device, maxChunkTokens);
    }

    public LoadedModel Model { get; }

    /// <summary>The forward pass on the run's device.</summary>
    public IForwardPass Forward { get; }

    /// <summary>The host Transformer (CPU runs only: tests of host-only options such as <see cref="MlaMode"/>).</summary>
    public Transformer Transformer => Forward as Transformer ?? throw new InvalidOperationException($"this run is on {Forward.Device}, not the host Transformer");

    public int Vocab => Model.Config.VocabSize;

    public void Dispose()
    {
        _lifetime.Dispose();
        Model.Dispose();
    }
}
