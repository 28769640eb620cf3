using Fathom.TestSupport;
using Xunit;

namespace Fathom.Backends.Cuda.Tests;

/// <summary>What a machine without a GPU says, and that the kernel sources ship inside the assembly.</summary>
public sealed class CudaAvailabilityTests
{
    [Fact]
    public void TheKernelSourcesAreEmbedded()
    {
        string source = CudaContext.KernelSource();
        foreach (string kernel in new[] { "GEMV_KERNELS(bf16", "moe_route", "moe_gate_route_", "mla_attention", "rmsnorm", "fp8_to_bf16", "mma_gemm_split_", "splitk_reduce" })
        {
            Assert.Contains(kernel, source, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void WithoutAGpuTheContextFailsWithAClearError()
    {
        if (GpuPresence.Reason is null)
        {
            return; // a GPU is present: the GPU tests cover this machine
        }

        var e = Assert.Throws<CudaException>(() => new CudaContext(0, new CudaOptions()));
        Assert.True(e.Message.Contains("NVIDIA", StringComparison.Ordinal) || e.Message.Contains("cu", StringComparison.Ordinal), e.Message);
    }

    [CudaFact]
    public void AMissingDeviceOrdinalIsNamed()
    {
        var e = Assert.Throws<CudaException>(() => new CudaContext(99, new CudaOptions()));
        Assert.Contains("cuda:99", e.Message, StringComparison.Ordinal);
    }
}
