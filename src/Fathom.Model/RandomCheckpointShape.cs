namespace Fathom.Model;

/// <summary>
/// The architecture of a random-weight checkpoint: the config.json values of a released DeepSeek model
/// (or a tiny one for tests). Layers and vocabulary are chosen per checkpoint (<see cref="RandomCheckpointOptions"/>).
/// </summary>
public sealed record RandomCheckpointShape
{
    /// <summary>
    /// DeepSeek-V2-Lite (config.json of deepseek-ai/DeepSeek-V2-Lite). Its default vocabulary is 129280,
    /// not V2-Lite's 102400: that is the standard bench model of docs/benchmarking.md (with an untied head,
    /// 6 layers make 3.535 B parameters). Pass a vocabulary of 102400 for V2-Lite's own size.
    /// </summary>
    public static RandomCheckpointShape V2Lite { get; } = new()
    {
        Name = "v2-lite",
        ModelType = "deepseek_v2",
        Architecture = "DeepseekV2ForCausalLM",
        HiddenSize = 2048,
        IntermediateSize = 10944,
        MoeIntermediateSize = 1408,
        Layers = 27,
        DenseLayers = 1,
        Heads = 16,
        QLoraRank = null,
        KvLoraRank = 512,
        QkNopeHeadDim = 128,
        QkRopeHeadDim = 64,
        VHeadDim = 128,
        RoutedExperts = 64,
        SharedExperts = 2,
        ExpertsPerToken = 6,
        Groups = 1,
        TopKGroups = 1,
        ScoringFunc = "softmax",
        TopKMethod = "greedy",
        NormTopKProb = false,
        RoutedScalingFactor = 1.0,
        Vocab = 129280,
        MaxPositionEmbeddings = 163840,
        RopeTheta = 10000,
        Yarn = new YarnScaling(40, 4096, 32, 1, 0.707, 0.707, null, true),
        RmsNormEps = 1e-6,
        BosTokenId = 100000,
        EosTokenId = 100001,
    };

    /// <summary>DeepSeek-V3 (config.json of deepseek-ai/DeepSeek-V3, without the MTP layer). 61 layers are 671 B parameters: use few.</summary>
    public static RandomCheckpointShape V3 { get; } = new()
    {
        Name = "v3",
        ModelType = "deepseek_v3",
        Architecture = "DeepseekV3ForCausalLM",
        HiddenSize = 7168,
        IntermediateSize = 18432,
        MoeIntermediateSize = 2048,
        Layers = 61,
        DenseLayers = 3,
        Heads = 128,
        QLoraRank = 1536,
        KvLoraRank = 512,
        QkNopeHeadDim = 128,
        QkRopeHeadDim = 64,
        VHeadDim = 128,
        RoutedExperts = 256,
        SharedExperts = 1,
        ExpertsPerToken = 8,
        Groups = 8,
        TopKGroups = 4,
        ScoringFunc = "sigmoid",
        TopKMethod = "noaux_tc",
        NormTopKProb = true,
        RoutedScalingFactor = 2.5,
        Vocab = 129280,
        MaxPositionEmbeddings = 163840,
        RopeTheta = 10000,
        Yarn = new YarnScaling(40, 4096, 32, 1, 1.0, 1.0, null, true),
        RmsNormEps = 1e-6,
        BosTokenId = 0,
        EosTokenId = 1,
    };

    /// <summary>
    /// A small DeepSeek-V3 layout for tests: q-LoRA, grouped sigmoid routing with a bias, and dimensions
    /// that are not multiples of the 128x128 FP8 blocks, so partial blocks are exercised too.
    /// </summary>
    public static RandomCheckpointShape Tiny { get; } = new()
    {
        Name = "tiny",
        ModelType = "deepseek_v3",
        Architecture = "DeepseekV3ForCausalLM",
        HiddenSize = 192,
        IntermediateSize = 384,
        MoeIntermediateSize = 96,
        Layers = 2,
        DenseLayers = 1,
        Heads = 4,
        QLoraRank = 96,
        KvLoraRank = 64,
        QkNopeHeadDim = 32,
        QkRopeHeadDim = 16,
        VHeadDim = 32,
        RoutedExperts = 8,
        SharedExperts = 1,
        ExpertsPerToken = 2,
        Groups = 2,
        TopKGroups = 1,
        ScoringFunc = "sigmoid",
        TopKMethod = "noaux_tc",
        NormTopKProb = true,
        RoutedScalingFactor = 2.5,
        Vocab = 1024,
        MaxPositionEmbeddings = 4096,
        RopeTheta = 10000,
        Yarn = new YarnScaling(4, 1024, 32, 1, 1.0, 1.0, null, true),
        RmsNormEps = 1e-6,
        BosTokenId = 0,
        EosTokenId = 1,
    };

    public static IReadOnlyList<RandomCheckpointShape> All { get; } = [V2Lite, V3, Tiny];

    /// <summary>The preset called <paramref name="name"/> (v2-lite, v3, tiny), or null.</summary>
    public static RandomCheckpointShape? Find(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));

    public required string Name { get; init; }

    public required string ModelType { get; init; }

    public required string Architecture { get; init; }

    public required int HiddenSize { get; init; }

    public required int IntermediateSize { get; init; }

    public required int MoeIntermediateSize { get; init; }

    /// <summary>The released model's layer count (the default).</summary>
    public required int Layers { get; init; }

    /// <summary>first_k_dense_replace.</summary>
    public required int DenseLayers { get; init; }

    public required int Heads { get; init; }

    public required int? QLoraRank { get; init; }

    public required int KvLoraRank { get; init; }

    public required int QkNopeHeadDim { get; init; }

    public required int QkRopeHeadDim { get; init; }

    public required int VHeadDim { get; init; }

    public required int RoutedExperts { get; init; }

    public required int SharedExperts { get; init; }

    public required int ExpertsPerToken { get; init; }

    public required int Groups { get; init; }

    public required int TopKGroups { get; init; }

    public required string ScoringFunc { get; init; }

    public required string TopKMethod { get; init; }

    public required bool NormTopKProb { get; init; }

    public required double RoutedScalingFactor { get; init; }

    /// <summary>The default vocabulary size.</summary>
    public required int Vocab { get; init; }

    public required int MaxPositionEmbeddings { get; init; }

    public required double RopeTheta { get; init; }

    public required YarnScaling? Yarn { get; init; }

    public required double RmsNormEps { get; init; }

    public required int BosTokenId { get; init; }

    public required int EosTokenId { get; init; }
}
