namespace Fathom.Model;

public enum ScoringFunction
{
    Softmax,
    Sigmoid,
}

public enum TopKMethod
{
    /// <summary>Plain top-k over all experts (DeepSeek-V2-Lite).</summary>
    Greedy,

    /// <summary>Group score = max of the group's scores; keep topk_group groups (DeepSeek-V2).</summary>
    GroupLimitedGreedy,

    /// <summary>Bias-corrected selection, group score = sum of the top-2 biased scores (DeepSeek-V3).</summary>
    NoAuxTc,
}

/// <summary>YaRN parameters (rope_scaling / rope_parameters with type "yarn").</summary>
public sealed record YarnScaling(
    double Factor,
    int OriginalMaxPositionEmbeddings,
    double BetaFast,
    double BetaSlow,
    double Mscale,
    double MscaleAllDim,
    double? AttentionFactor,
    bool Truncate);

/// <summary>Block-scaled FP8 weights as in DeepSeek-V3's release.</summary>
public sealed record Fp8Quantization(int BlockRows, int BlockCols, string ActivationScheme);

/// <summary>
/// Everything the forward pass needs from config.json, read once and validated. Field names follow the
/// Hugging Face config keys in PascalCase.
/// </summary>
public sealed record ModelConfig
{
    public required string ModelType { get; init; }

    public required int VocabSize { get; init; }

    public required int HiddenSize { get; init; }

    public required int IntermediateSize { get; init; }

    public required int MoeIntermediateSize { get; init; }

    public required int NumHiddenLayers { get; init; }

    public required int NumAttentionHeads { get; init; }

    public required int NRoutedExperts { get; init; }

    public required int NSharedExperts { get; init; }

    public required int NumExpertsPerTok { get; init; }

    public required int NGroup { get; init; }

    public required int TopKGroup { get; init; }

    public required ScoringFunction ScoringFunc { get; init; }

    public required TopKMethod TopKMethod { get; init; }

    public required bool NormTopKProb { get; init; }

    public required double RoutedScalingFactor { get; init; }

    public required int FirstKDenseReplace { get; init; }

    public required int MoeLayerFreq { get; init; }

    /// <summary>Null means a plain q_proj (no query LoRA).</summary>
    public required int? QLoraRank { get; init; }

    public required int KvLoraRank { get; init; }

    public required int QkNopeHeadDim { get; init; }

    public required int QkRopeHeadDim { get; init; }

    public required int VHeadDim { get; init; }

    public required double RopeTheta { get; init; }

    public required YarnScaling? RopeScaling { get; init; }

    public required int MaxPositionEmbeddings { get; init; }

    public required double RmsNormEps { get; init; }

    public required bool TieWordEmbeddings { get; init; }

    public required int NumNextNPredictLayers { get; init; }

    public required Fp8Quantization? Quantization { get; init; }

    /// <summary>INT8 / AWQ INT4 weights (null for float and FP8 checkpoints).</summary>
    public IntegerQuantization? IntegerQuantization { get; init; }

    public required int? BosTokenId { get; init; }

    public required IReadOnlyList<int> EosTokenIds { get; init; }

    public int QkHeadDim => QkNopeHeadDim + QkRopeHeadDim;

    /// <summary>Values cached per token per layer: the normalised latent and the roped key.</summary>
    public int KvCacheWidth => KvLoraRank + QkRopeHeadDim;

    public bool IsMoeLayer(int layer) =>
        NRoutedExperts > 0 && layer >= FirstKDenseReplace && layer % MoeLayerFreq == 0;

    /// <summary>
    /// (qk_nope + qk_rope)^-0.5, times mscale² when YaRN is configured with a non-zero mscale_all_dim
    /// (as Hugging Face's DeepseekV3Attention does).
    /// </summary>
    public double SoftmaxScale
    {
        get
        {
            double scale = 1.0 / Math.Sqrt(QkHeadDim);
            if (RopeScaling is { MscaleAllDim: not 0 } yarn)
            {
                double m = YarnMath.GetMscale(yarn.Factor, yarn.MscaleAllDim);
                scale *= m * m;
            }

            return scale;
        }
    }

    /// <summary>Reads and validates config.json.</summary>
    public static ModelConfig Load(string path) => ModelConfigReader.Read(path);
}

internal static class YarnMath
{
    public static double GetMscale(double scale, double mscale = 1) => scale <= 1 ? 1.0 : (0.1 * mscale * Math.Log(scale)) + 1.0;
}
