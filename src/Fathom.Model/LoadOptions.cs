using Fathom.Core;

namespace Fathom.Model;

/// <summary>How weights are brought into memory.</summary>
public enum WeightResidency
{
    /// <summary>Memory-map the safetensors files (models larger than RAM; pages come and go with the page cache).</summary>
    Mapped,

    /// <summary>Read the files into anonymous memory once (steadier and usually faster when the model fits in RAM).</summary>
    InMemory,
}

/// <summary>Choices made when a model folder is loaded.</summary>
public sealed record LoadOptions
{
    public static LoadOptions Default { get; } = new();

    /// <summary>Quantize linear weights at load time to this block format (Q8_0 or Q4_K); null keeps them as stored.</summary>
    public DType? Quantize { get; init; }

    public WeightResidency Residency { get; init; } = WeightResidency.Mapped;

    /// <summary>Told how far the load-time quantization has come (rows of weights encoded), from its worker threads one at a time.</summary>
    public IProgress<QuantizationProgress>? Progress { get; init; }
}
