using Fathom.Core;

namespace Fathom.Model;

/// <summary>How a random checkpoint's tensor is filled.</summary>
public enum RandomCheckpointFill
{
    /// <summary>Normal samples with standard deviation <see cref="RandomCheckpointTensor.Value"/> (FP8: in units of the block scale).</summary>
    Normal,

    /// <summary>Every element equals <see cref="RandomCheckpointTensor.Value"/> (norm weights 1, router biases 0, FP8 block scales).</summary>
    Constant,
}

/// <summary>One tensor of a random checkpoint: its name, storage type, shape and contents.</summary>
public sealed record RandomCheckpointTensor(string Name, DType Type, int[] Shape, RandomCheckpointFill Fill, double Value)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    public long ByteLength => ElementCount * Type.Size();

    /// <summary>FP8 block scales are storage, not parameters.</summary>
    public bool IsParameter => !Name.EndsWith(TensorNames.ScaleSuffix, StringComparison.Ordinal);

    public override string ToString() => $"{Name} {Type.ToSafeTensors()}[{string.Join(", ", Shape)}]";
}
