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
}

/// <summary>The probe's answer, asked once per test process.</summary>
public static class GpuPresence
{
    private static readonly Lazy<string?> Answer = new(CudaProbe.Unavailable);

    /// <summary>Null when a GPU is usable; otherwise why not.</summary>
    public static string? Reason => Answer.Value;
}
