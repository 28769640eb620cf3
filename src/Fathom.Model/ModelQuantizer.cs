using Fathom.Core;

namespace Fathom.Model;

/// <summary>Re-encodes the linear weights of a loaded model into a block format at load time.</summary>
public static class ModelQuantizer
{
    public static ModelWeights Apply(ModelWeights weights, ModelConfig config, DType target) =>
        throw new NotSupportedException($"quantizing to {target.ToSafeTensors()} is not available yet");
}
