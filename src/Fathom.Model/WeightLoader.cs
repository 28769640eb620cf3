using Fathom.Core;

namespace Fathom.Model;

/// <summary>
/// Builds <see cref="ModelWeights"/> from a checkpoint, checking every tensor's presence, dtype and shape
/// against the config. Matrices stay in the mapped file in their stored dtype (bf16 and FP8 are not
/// copied); only norm vectors, router biases and FP8 block scales are widened into small float arrays.
/// </summary>
public sealed class WeightLoader
{
    private readonly Checkpoint _checkpoint;
    private readonly ModelConfig _config;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private WeightLoader(Checkpoint checkpoint, ModelConfig config)
    {
        _checkpoint = checkpoint;
        _config = config;
    }

    public static ModelWeights Load(Checkpoint checkpoint, ModelConfig config) => new WeightLoader(checkpoint, config).LoadAll();

    private ModelWeights LoadAll()
    {
        var c = _config;
        var embed = Matrix(TensorNames.Embed, c.VocabSize, c.HiddenSize, allowFp8: false);
        var layers = new LayerWeights[c.NumHiddenLayers];
        for (int l = 0; l < layers.Length; l++)
        {
            layers[l] = Layer(l);
        }

        var finalNorm = Vector(TensorNames.FinalNorm, c.HiddenSize);
        WeightMatrix head = c.TieWordEmbeddings && !_checkpoint.Contains(TensorNames.LmHead)
            ? embed
            : Matrix(TensorNames.LmHead, c.VocabSize, c.HiddenSize, allowFp8: false);

        var mtp = new List<MtpWeights>();
        for (int k = 0; k < c.NumNextNPredictLayers; k++)
        {
            int layer = c.NumHiddenLayers + k;
            // Checkpoints converted for inference often drop the MTP layer; it is optional.
            if (_checkpoint.Contains(TensorNames.MtpEhProj(layer)))
            {
                mtp.Add(Mtp(layer));
            }
        }

        var unused = _checkpoint.Tensors.Keys
            .Where(n => !_used.Contains(n))
            .Order(StringComparer.Ordinal)
            .ToList();
        return new ModelWeights(embed, layers, finalNorm, head, [.. mtp], unused);
    }

    private LayerWeights Layer(int l)
    {
        var c = _config;
        return new LayerWeights(
            Vector(TensorNames.InputNorm(l), c.HiddenSize),
            Attention(l),
            Vector(TensorNames.PostAttentionNorm(l), c.HiddenSize),
            c.IsMoeLayer(l) ? null : Ffn(n => TensorNames.Mlp(l, n), c.IntermediateSize),
            c.IsMoeLayer(l) ? Moe(l) : null);
    }

    private AttentionWeights Attention(int l)
    {
        var c = _config;
        int qOut = c.NumAttentionHeads * c.QkHeadDim;
        WeightMatrix? qa = null, qb = null, q = null;
        float[]? qaNorm = null;
        if (c.QLoraRank is int rank)
        {
            qa = Matrix(TensorNames.QA(l), rank, c.HiddenSize);
            qaNorm = Vector(TensorNames.QANorm(l), rank);
            qb = Matrix(TensorNames.QB(l), qOut, rank);
        }
        else
        {
            q = Matrix(TensorNames.Q(l), qOut, c.HiddenSize);
        }

        return new AttentionWeights(
            qa,
            qaNorm,
            qb,
            q,
            Matrix(TensorNames.KvA(l), c.KvLoraRank + c.QkRopeHeadDim, c.HiddenSize),
            Vector(TensorNames.KvANorm(l), c.KvLoraRank),
            Matrix(TensorNames.KvB(l), c.NumAttentionHeads * (c.QkNopeHeadDim + c.VHeadDim), c.KvLoraRank),
            Matrix(TensorNames.O(l), c.HiddenSize, c.NumAttentionHeads * c.VHeadDim));
    }

    private MoeWeights Moe(int l)
    {
        var c = _config;
        var router = Matrix(TensorNames.Router(l), c.NRoutedExperts, c.HiddenSize, allowFp8: false);
        float[]? bias = null;
        if (c.TopKMethod == TopKMethod.NoAuxTc)
        {
            bias = Vector(TensorNames.RouterBias(l), c.NRoutedExperts);
        }

        var experts = new FeedForwardWeights[c.NRoutedExperts];
        for (int e = 0; e < experts.Length; e++)
        {
            int expert = e;
            experts[e] = Ffn(n => TensorNames.Expert(l, expert, n), c.MoeIntermediateSize);
        }

        var shared = c.NSharedExperts > 0
            ? Ffn(n => TensorNames.SharedExpert(l, n), c.NSharedExperts * c.MoeIntermediateSize)
            : null;
        return new MoeWeights(router, bias, experts, shared);
    }

    private FeedForwardWeights Ffn(Func<string, string> name, int width) => new(
        Matrix(name(TensorNames.Gate), width, _config.HiddenSize),
        Matrix(name(TensorNames.Up), width, _config.HiddenSize),
        Matrix(name(TensorNames.Down), _config.HiddenSize, width));

    private MtpWeights Mtp(int layer)
    {
        var c = _config;
        return new MtpWeights(
            layer,
            Vector(TensorNames.MtpENorm(layer), c.HiddenSize),
            Vector(TensorNames.MtpHNorm(layer), c.HiddenSize),
            Matrix(TensorNames.MtpEhProj(layer), c.HiddenSize, 2 * c.HiddenSize),
            Layer(layer),
            Vector(TensorNames.MtpHeadNorm(layer), c.HiddenSize),
            _checkpoint.Contains(TensorNames.MtpHead(layer)) ? Matrix(TensorNames.MtpHead(layer), c.VocabSize, c.HiddenSize, allowFp8: false) : default,
            _checkpoint.Contains(TensorNames.MtpEmbed(layer)) ? Matrix(TensorNames.MtpEmbed(layer), c.VocabSize, c.HiddenSize, allowFp8: false) : default);
    }

    private TensorEntry Require(string name)
    {
        var entry = _checkpoint.Find(name)
            ?? throw new ModelFormatException($"{_checkpoint.Directory}: missing tensor '{name}' (required by config.json)");
        _used.Add(name);
        return entry;
    }

    private unsafe WeightMatrix Matrix(string name, int rows, int cols, bool allowFp8 = true)
    {
        if (allowFp8 && IntegerWeightReader.IsAwq(_checkpoint, name))
        {
            int group = _config.IntegerQuantization is { Method: IntegerQuantMethod.Awq } awq ? awq.GroupSize
                : throw new ModelFormatException($"{_checkpoint.Directory}: '{IntegerWeightReader.Stem(name)}' is stored as AWQ (qweight) but config.json's quantization_config is not quant_method \"awq\"");
            return IntegerWeightReader.Awq(_checkpoint, name, rows, cols, group, n => _used.Add(n));
        }

        var entry = Require(name);
        if (entry.Shape.Length != 2 || entry.Shape[0] != rows || entry.Shape[1] != cols)
        {
            throw new ModelFormatException(
                $"{entry.File.Path}: tensor '{name}' has shape {entry.ShapeText} but config.json implies [{rows}, {cols}]");
        }

        switch (entry.Type)
        {
            case DType.F32 or DType.BF16 or DType.F16:
                return new WeightMatrix(entry.Type, entry.File.DataPointer(entry), rows, cols, cols, entry.File);
            case DType.F8E4M3 when allowFp8:
                var (scales, blockRows, blockCols) = BlockScales(entry, rows, cols);
                return new WeightMatrix(entry.Type, entry.File.DataPointer(entry), rows, cols, cols, entry.File, scales, blockRows, blockCols);
            case DType.I8 when allowFp8:
                return IntegerWeightReader.Int8(_checkpoint, entry, rows, cols, n => _used.Add(n));
            default:
                throw new ModelFormatException(
                    $"{entry.File.Path}: tensor '{name}' has dtype {entry.Type.ToSafeTensors()}, which is not supported here (expected BF16, F16, F32{(allowFp8 ? ", F8_E4M3 with block scales or I8 with per-channel scales" : string.Empty)})");
        }
    }

    private (float[] Scales, int BlockRows, int BlockCols) BlockScales(TensorEntry weight, int rows, int cols)
    {
        int blockRows = _config.Quantization?.BlockRows ?? 128;
        int blockCols = _config.Quantization?.BlockCols ?? 128;
        string scaleName = weight.Name + TensorNames.ScaleSuffix;
        var entry = _checkpoint.Find(scaleName)
            ?? throw new ModelFormatException($"{_checkpoint.Directory}: FP8 tensor '{weight.Name}' has no block scales '{scaleName}'");
        _used.Add(scaleName);
        int scaleRows = (rows + blockRows - 1) / blockRows, scaleCols = (cols + blockCols - 1) / blockCols;
        if (entry.Shape.Length != 2 || entry.Shape[0] != scaleRows || entry.Shape[1] != scaleCols)
        {
            throw new ModelFormatException(
                $"{entry.File.Path}: tensor '{scaleName}' has shape {entry.ShapeText} but [{rows}, {cols}] in {blockRows}x{blockCols} blocks needs [{scaleRows}, {scaleCols}]");
        }

        var scales = ToFloats(entry);
        for (int i = 0; i < scales.Length; i++)
        {
            if (!float.IsFinite(scales[i]))
            {
                throw new ModelFormatException($"{entry.File.Path}: tensor '{scaleName}' holds a non-finite scale at block {i}");
            }
        }

        return (scales, blockRows, blockCols);
    }

    private float[] Vector(string name, int length)
    {
        var entry = Require(name);
        if (entry.Shape.Length != 1 || entry.Shape[0] != length)
        {
            throw new ModelFormatException($"{entry.File.Path}: tensor '{name}' has shape {entry.ShapeText} but config.json implies [{length}]");
        }

        return ToFloats(entry);
    }

    private static float[] ToFloats(TensorEntry entry)
    {
        var bytes = entry.File.Bytes(entry);
        var result = new float[entry.ElementCount];
        switch (entry.Type)
        {
            case DType.F32:
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).CopyTo(result);
                break;
            case DType.BF16:
                var bf = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bytes);
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = BFloat16.ToSingle(bf[i]);
                }

                break;
            case DType.F16:
                var h = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (float)h[i];
                }

                break;
            default:
                throw new ModelFormatException(
                    $"{entry.File.Path}: tensor '{entry.Name}' has dtype {entry.Type.ToSafeTensors()} (expected F32, BF16 or F16)");
        }

        return result;
    }
}
