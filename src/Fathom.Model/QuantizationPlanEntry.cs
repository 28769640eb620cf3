using Fathom.Core;

namespace Fathom.Model;

/// <summary>What <see cref="ModelQuantizer"/> does with one linear weight: its checkpoint name, shape, and format before and after.</summary>
public sealed record QuantizationPlanEntry(string Name, int Rows, int Cols, DType From, DType To)
{
    /// <summary>Whether the weight was re-encoded (false: its width is not a whole number of blocks, so it stays as stored).</summary>
    public bool Quantized => To != From;
}
