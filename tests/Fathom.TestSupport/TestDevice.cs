using Fathom.Backends.Cpu;
using Fathom.Backends.Cuda;
using Fathom.Model;

namespace Fathom.TestSupport;

/// <summary>Where a model-level test runs its forward passes.</summary>
public enum TestDevice
{
    /// <summary>The host Transformer on the vectorised CPU backend (float32).</summary>
    Cpu,

    /// <summary>The GPU with float32 activations (the precise GPU path).</summary>
    CudaF32,

    /// <summary>The GPU with activations rounded to bfloat16 (the fast GPU path).</summary>
    CudaBf16,
}

/// <summary>Builds the forward pass of a <see cref="TestDevice"/> over a loaded model.</summary>
public static class TestForwardPass
{
    /// <summary>The pass and what must be disposed with it.</summary>
    public static (IForwardPass Pass, IDisposable Lifetime) Create(LoadedModel model, TestDevice device, int maxChunkTokens = 256)
    {
        if (device == TestDevice.Cpu)
        {
            var backend = new CpuBackend();
            return (new Transformer(model, backend, maxChunkTokens), backend);
        }

        var gpu = new CudaTransformer(model, new CudaOptions
        {
            Bf16Activations = device == TestDevice.CudaBf16,
            MaxChunkTokens = maxChunkTokens,
            KvCacheTokens = 8192,
            KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels"),
        });
        return (gpu, gpu);
    }
}
