using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fathom.Core;

namespace Fathom.Model;

/// <summary>
/// Re-encodes the linear weights of a loaded model into a block format at load time: the attention
/// projections (q_a, q_b or q, kv_a, kv_b, o), the dense, routed and shared feed-forward projections, and
/// the LM head. Embeddings, norms, the router (mlp.gate) and biases stay as they are (they are small, and the
/// router's choices are sensitive to its precision), as do the MTP modules. Each matrix is decoded row by
/// row to float32 from whatever it is stored as (BF16, F16, F32, FP8 with block scales) and encoded with
/// the GGML reference encoders (Q8_0, Q4_K) or into FP8 e4m3 with 128x128 block scales (DeepSeek's own
/// layout, <see cref="Fp8BlockQuantizer"/>; weights already in FP8 are kept, so an FP8 checkpoint gets its
/// BF16 LM head in FP8 too); the new bytes live in pinned arrays owned by the new view.
/// </summary>
public static unsafe class ModelQuantizer
{
    /// <summary>Rows per unit of parallel work: about a quarter million weights each.</summary>
    private const int WeightsPerChunk = 1 << 18;

    /// <summary>The FP8 target's scale blocks (rows and columns), as DeepSeek's checkpoints have them.</summary>
    public const int Fp8Block = 128;

    /// <summary>
    /// The format a linear weight with <paramref name="cols"/> inputs gets: the target when its rows are whole
    /// blocks; for Q4_K, Q8_0 when they are whole 32-blocks only (as llama.cpp falls back for such tensors);
    /// otherwise null, and the weight stays as stored. FP8 takes any width (edge blocks are partial).
    /// </summary>
    public static DType? FormatFor(DType target, int cols)
    {
        CheckTarget(target);
        if (target == DType.F8E4M3 || cols % target.BlockElements() == 0)
        {
            return target;
        }

        return cols % DType.Q8_0.BlockElements() == 0 ? DType.Q8_0 : null;
    }

    /// <summary>Every linear weight <see cref="Apply"/> considers, with the format it would get.</summary>
    public static IReadOnlyList<QuantizationPlanEntry> Plan(ModelWeights weights, DType target)
    {
        ArgumentNullException.ThrowIfNull(weights);
        CheckTarget(target);
        var plan = new List<QuantizationPlanEntry>();
        Map(weights, (name, m) =>
        {
            plan.Add(new QuantizationPlanEntry(name, m.Rows, m.Cols, m.Type, FormatFor(target, m.Cols) ?? m.Type));
            return m;
        });
        return plan;
    }

    /// <summary>
    /// The weights with every linear matrix re-encoded for <paramref name="target"/>; <paramref name="progress"/>
    /// hears the rows encoded so far (about a hundred reports in all, never two at once).
    /// </summary>
    public static ModelWeights Apply(ModelWeights weights, ModelConfig config, DType target, IProgress<QuantizationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(config);
        CheckTarget(target);
        var sources = new List<(string Name, WeightMatrix Matrix)>();
        Map(weights, (name, m) =>
        {
            sources.Add((name, m));
            return m;
        });

        var results = new WeightMatrix[sources.Count];
        var chunks = new List<(int Matrix, int Start, int End)>();
        int widest = 1;
        for (int i = 0; i < sources.Count; i++)
        {
            var source = sources[i].Matrix;
            if (FormatFor(target, source.Cols) is not { } format || source.Type == format)
            {
                results[i] = source;
                continue;
            }

            results[i] = Allocate(sources[i].Name, source, format);
            widest = Math.Max(widest, source.Cols);

            // FP8 chunks are whole bands of block rows: a block's scale needs all its rows.
            int rowsPerChunk = format == DType.F8E4M3 ? Fp8Block : Math.Max(1, WeightsPerChunk / Math.Max(1, source.Cols));
            for (int r = 0; r < source.Rows; r += rowsPerChunk)
            {
                chunks.Add((i, r, Math.Min(source.Rows, r + rowsPerChunk)));
            }
        }

        int totalRows = chunks.Sum(c => c.End - c.Start), doneRows = 0, reported = 0;
        string stage = $"quantizing {target.ToSafeTensors()}";
        var gate = new object();
        progress?.Report(new QuantizationProgress(stage, 0, totalRows));
        Parallel.ForEach(
            chunks,
            () => new float[(target == DType.F8E4M3 ? Fp8Block : 1) * widest],
            (chunk, _, buffer) =>
            {
                Encode(sources[chunk.Matrix].Matrix, results[chunk.Matrix], chunk.Start, chunk.End, buffer);
                int done = Interlocked.Add(ref doneRows, chunk.End - chunk.Start);
                if (progress is not null && (long)(done - Volatile.Read(ref reported)) * 100 >= totalRows)
                {
                    lock (gate)
                    {
                        if (done > reported)
                        {
                            reported = done;
                            progress.Report(new QuantizationProgress(stage, done, totalRows));
                        }
                    }
                }

                return buffer;
            },
            _ => { });
        progress?.Report(new QuantizationProgress(stage, totalRows, totalRows));

        var byName = new Dictionary<string, WeightMatrix>(sources.Count, StringComparer.Ordinal);
        for (int i = 0; i < sources.Count; i++)
        {
            byName[sources[i].Name] = results[i];
        }

        return Map(weights, (name, _) => byName[name]);
    }

    private static void CheckTarget(DType target)
    {
        if (target is not (DType.Q8_0 or DType.Q4K or DType.F8E4M3))
        {
            throw new NotSupportedException($"quantizing to {target.ToSafeTensors()} is not available: the targets are Q8_0, Q4_K and FP8 (F8_E4M3)");
        }
    }

    private static WeightMatrix Allocate(string name, in WeightMatrix source, DType format)
    {
        long bytes = format.BytesFor((long)source.Rows * source.Cols);
        if (bytes > Array.MaxLength)
        {
            throw new NotSupportedException($"{name} [{source.Rows}, {source.Cols}] needs {bytes} bytes as {format.ToSafeTensors()}, more than one array holds");
        }

        var storage = GC.AllocateUninitializedArray<byte>((int)Math.Max(1, bytes), pinned: true);
        byte* p = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(storage));
        if (format == DType.F8E4M3)
        {
            var scales = new float[((source.Rows + Fp8Block - 1) / Fp8Block) * ((source.Cols + Fp8Block - 1) / Fp8Block)];
            return new WeightMatrix(format, p, source.Rows, source.Cols, source.Cols, storage, scales, Fp8Block, Fp8Block);
        }

        return new WeightMatrix(format, p, source.Rows, source.Cols, source.Cols, storage);
    }

    private static void Encode(in WeightMatrix source, in WeightMatrix target, int start, int end, float[] buffer)
    {
        int cols = source.Cols;
        if (target.Type == DType.F8E4M3)
        {
            // One band of block rows (start is a multiple of the block height): decoded whole, then encoded.
            var band = buffer.AsSpan(0, (end - start) * cols);
            for (int r = start; r < end; r++)
            {
                source.DequantizeRow(r, band.Slice((r - start) * cols, cols));
            }

            int scaleCols = (cols + Fp8Block - 1) / Fp8Block;
            Fp8BlockQuantizer.QuantizeBand(
                band,
                end - start,
                cols,
                Fp8Block,
                new Span<byte>(target.RowPointer(start), (end - start) * cols),
                target.BlockScales.AsSpan(start / Fp8Block * scaleCols, scaleCols));
            return;
        }

        var values = buffer.AsSpan(0, cols);
        for (int r = start; r < end; r++)
        {
            source.DequantizeRow(r, values);
            BlockQuantization.QuantizeRow(target.Type, values, target.RowPointer(r));
        }
    }

    /// <summary>The weights with every linear matrix replaced by <paramref name="map"/>(checkpoint name, matrix), in a fixed order.</summary>
    private static ModelWeights Map(ModelWeights weights, Func<string, WeightMatrix, WeightMatrix> map)
    {
        var layers = new LayerWeights[weights.Layers.Length];
        for (int l = 0; l < layers.Length; l++)
        {
            layers[l] = LayerLinears.Map(l, weights.Layers[l], map);
        }

        return weights with { Layers = layers, LmHead = map(TensorNames.LmHead, weights.LmHead) };
    }
}
