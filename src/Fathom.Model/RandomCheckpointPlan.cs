using Fathom.Core;

namespace Fathom.Model;

/// <summary>
/// The tensors a config.json calls for, in checkpoint order (embedding, layers, final norm, head), with
/// the names of <see cref="TensorNames"/> and the shapes <see cref="WeightLoader"/> checks, so any valid
/// config yields a checkpoint that loads.
/// </summary>
public sealed class RandomCheckpointPlan
{
    /// <summary>The FP8 block edge of DeepSeek-V3's release (weight_block_size [128, 128]).</summary>
    public const int Fp8Block = 128;

    private RandomCheckpointPlan(ModelConfig config, DType linearType, IReadOnlyList<RandomCheckpointTensor> tensors)
    {
        Config = config;
        LinearType = linearType;
        Tensors = tensors;
    }

    public ModelConfig Config { get; }

    /// <summary>BF16 or F8E4M3: the type of every linear weight except the router (BF16 as released).</summary>
    public DType LinearType { get; }

    public IReadOnlyList<RandomCheckpointTensor> Tensors { get; }

    public long Parameters => Tensors.Where(t => t.IsParameter).Sum(t => t.ElementCount);

    public long Bytes => Tensors.Sum(t => t.ByteLength);

    public static RandomCheckpointPlan Create(ModelConfig config, DType linearType, double std = RandomCheckpointOptions.DefaultStd)
    {
        if (linearType is not (DType.BF16 or DType.F8E4M3))
        {
            throw new ArgumentException($"linear weights can be BF16 or F8_E4M3 (got {linearType.ToSafeTensors()})", nameof(linearType));
        }

        var c = config;
        var tensors = new List<RandomCheckpointTensor>();
        void Normal(string name, int rows, int cols) =>
            tensors.Add(new RandomCheckpointTensor(name, DType.BF16, [rows, cols], RandomCheckpointFill.Normal, std));
        void Ones(string name, int length) =>
            tensors.Add(new RandomCheckpointTensor(name, DType.BF16, [length], RandomCheckpointFill.Constant, 1.0));
        void Linear(string name, int rows, int cols)
        {
            if (linearType == DType.BF16)
            {
                Normal(name, rows, cols);
                return;
            }

            // One scale for all blocks: the stored codes are normal in units of the scale, so the weights
            // are normal with the requested std (see RandomCheckpointSampler.Fp8ScaleFor).
            tensors.Add(new RandomCheckpointTensor(name, DType.F8E4M3, [rows, cols], RandomCheckpointFill.Normal, std));
            tensors.Add(new RandomCheckpointTensor(
                name + TensorNames.ScaleSuffix,
                DType.F32,
                [(rows + Fp8Block - 1) / Fp8Block, (cols + Fp8Block - 1) / Fp8Block],
                RandomCheckpointFill.Constant,
                RandomCheckpointSampler.Fp8ScaleFor(std)));
        }

        void Ffn(Func<string, string> name, int width)
        {
            Linear(name(TensorNames.Gate), width, c.HiddenSize);
            Linear(name(TensorNames.Up), width, c.HiddenSize);
            Linear(name(TensorNames.Down), c.HiddenSize, width);
        }

        Normal(TensorNames.Embed, c.VocabSize, c.HiddenSize);
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            int layer = l;
            Ones(TensorNames.InputNorm(l), c.HiddenSize);
            int qOut = c.NumAttentionHeads * c.QkHeadDim;
            if (c.QLoraRank is int rank)
            {
                Linear(TensorNames.QA(l), rank, c.HiddenSize);
                Ones(TensorNames.QANorm(l), rank);
                Linear(TensorNames.QB(l), qOut, rank);
            }
            else
            {
                Linear(TensorNames.Q(l), qOut, c.HiddenSize);
            }

            Linear(TensorNames.KvA(l), c.KvLoraRank + c.QkRopeHeadDim, c.HiddenSize);
            Ones(TensorNames.KvANorm(l), c.KvLoraRank);
            Linear(TensorNames.KvB(l), c.NumAttentionHeads * (c.QkNopeHeadDim + c.VHeadDim), c.KvLoraRank);
            Linear(TensorNames.O(l), c.HiddenSize, c.NumAttentionHeads * c.VHeadDim);
            Ones(TensorNames.PostAttentionNorm(l), c.HiddenSize);
            if (!c.IsMoeLayer(l))
            {
                Ffn(part => TensorNames.Mlp(layer, part), c.IntermediateSize);
                continue;
            }

            // The router stays BF16 in FP8 releases; its bias (noaux_tc only) is F32 and starts at zero.
            Normal(TensorNames.Router(l), c.NRoutedExperts, c.HiddenSize);
            if (c.TopKMethod == TopKMethod.NoAuxTc)
            {
                tensors.Add(new RandomCheckpointTensor(TensorNames.RouterBias(l), DType.F32, [c.NRoutedExperts], RandomCheckpointFill.Constant, 0.0));
            }

            for (int e = 0; e < c.NRoutedExperts; e++)
            {
                int expert = e;
                Ffn(part => TensorNames.Expert(layer, expert, part), c.MoeIntermediateSize);
            }

            if (c.NSharedExperts > 0)
            {
                Ffn(part => TensorNames.SharedExpert(layer, part), c.NSharedExperts * c.MoeIntermediateSize);
            }
        }

        Ones(TensorNames.FinalNorm, c.HiddenSize);
        if (!c.TieWordEmbeddings)
        {
            Normal(TensorNames.LmHead, c.VocabSize, c.HiddenSize);
        }

        return new RandomCheckpointPlan(config, linearType, tensors);
    }

    /// <summary>
    /// Consecutive runs of tensors, each run at most <paramref name="shardBytes"/> of data unless a single
    /// tensor is larger (it then gets a shard of its own); FP8 scales stay with their weight.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<RandomCheckpointTensor>> Shards(long shardBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(shardBytes, 0);
        var shards = new List<IReadOnlyList<RandomCheckpointTensor>>();
        var current = new List<RandomCheckpointTensor>();
        long size = 0;
        for (int i = 0; i < Tensors.Count; i++)
        {
            var t = Tensors[i];
            long unit = t.ByteLength;
            bool scaled = i + 1 < Tensors.Count && Tensors[i + 1].Name == t.Name + TensorNames.ScaleSuffix;
            if (scaled)
            {
                unit += Tensors[i + 1].ByteLength;
            }

            if (current.Count > 0 && size + unit > shardBytes)
            {
                shards.Add(current);
                current = [];
                size = 0;
            }

            current.Add(t);
            if (scaled)
            {
                current.Add(Tensors[++i]);
            }

            size += unit;
        }

        if (current.Count > 0)
        {
            shards.Add(current);
        }

        return shards;
    }
}
