using Fathom.Backends.Cuda;
using Xunit;

namespace Fathom.TestSupport;

/// <summary>A test that needs an NVIDIA GPU: skipped, with the reason, on machines without one.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (GpuPresence.Reason is { } reason)
        {
            Skip = $"needs an NVIDIA GPU: {reason}";
        }
    }
}

/// <summary>A data-driven test that needs an NVIDIA GPU: skipped, with the reason, on machines without one.</summary>
public sealed class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute()
    {
        if (GpuPresence.Reason is { } reason)
        {
            Skip = $"needs an NVIDIA GPU: {reason}";
        }
    }

    /// <summary>Skips, with the reason, on GPUs below this compute capability (major · 10 + minor) as well.</summary>
    public int MinComputeCapability
    {
        get;
        set
        {
            field = value;
            if (Skip is null && GpuPresence.ComputeCapability is int cc && cc < value)
            {
                Skip = $"needs an NVIDIA GPU of compute capability {value / 10}.{value % 10} or newer; this one is {cc / 10}.{cc % 10}";
            }
        }
    }
}

/// <summary>The probe's answer, asked once per test process.</summary>
public static class GpuPresence
{
    private static readonly Lazy<string?> Answer = new(CudaProbe.Unavailable);

    private static readonly Lazy<int?> Capability = new(CudaProbe.ComputeCapability);

    /// <summary>Null when a GPU is usable; otherwise why not.</summary>
    public static string? Reason => Answer.Value;

    /// <summary>Device 0's compute capability (major · 10 + minor), null without a usable GPU.</summary>
    public static int? ComputeCapability => Capability.Value;
}
