using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Fathom.Core;

namespace Fathom.Model;

/// <summary>
/// Quantizes a checkpoint folder into INT8 (w8a8_int8), INT4 (AWQ layout) or FP8 (128x128 blocks), one
/// decoder layer at a time: the source stays memory-mapped, each layer's weights are widened to float32,
/// quantized, written as one shard and released, so memory stays near one layer (plus the calibration
/// activations). With calibration (AWQ, GPTQ) the calibration sequences' hidden states are carried from
/// layer to layer: each layer is run once with its original weights to collect its inputs' statistics,
/// then once with its quantized weights to produce the next layer's inputs, so later layers are calibrated
/// on what the quantized model really feeds them. Router, norms, embeddings and the LM head stay in high
/// precision; the MTP modules (which the calibration pass does not reach) are rounded to nearest.
/// </summary>
public static class CheckpointQuantizer
{
    private const int SequencesPerPass = 8;

    public static QuantizationReport Run(QuantizationRequest request, IBackend backend, IProgress<QuantizationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Validate(request);
        using var model = LoadedModel.Load(request.Source, new LoadOptions { Residency = WeightResidency.Mapped });
        var c = model.Config;
        if (c.IntegerQuantization is { } already)
        {
            throw new ArgumentException(
                $"{request.Source}: the model is already quantized ({already.MethodName}); quantizing it again would compound the rounding. Start from the original BF16 or FP8 checkpoint");
        }

        var job = new Job(request, model, backend, progress);
        return job.Run();
    }

    /// <summary>Checks the combination of format, method and group size (before any calibration text is read).</summary>
    public static void Validate(QuantizationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Format == QuantFormat.Fp8 && request.Method != QuantMethod.Rtn)
        {
            throw new ArgumentException($"--method {request.Method.ToString().ToLowerInvariant()} is not available for fp8 (its 128x128 block scales are fitted by rounding to nearest); use --method rtn");
        }

        if (request.Format == QuantFormat.Int4 && (request.GroupSize <= 0 || request.GroupSize % 8 != 0))
        {
            throw new ArgumentException($"--group-size {request.GroupSize} must be a positive multiple of 8 (AWQ's layout), e.g. 128");
        }
    }

    private sealed class Job(QuantizationRequest request, LoadedModel model, IBackend backend, IProgress<QuantizationProgress>? progress)
    {
        private readonly ModelConfig _c = model.Config;
        private readonly IntegerGrid _grid = new(request.Format == QuantFormat.Int8 ? IntegerScheme.Int8Channel : IntegerScheme.Int4Group, request.GroupSize);
        private readonly Dictionary<string, WeightMatrix> _matrices = new(StringComparer.Ordinal);
        private readonly List<string> _notes = [];
        private int _quantizedCount;
        private int _keptCount;
        private float[] _hidden = [];
        private int _sequences;

        public QuantizationReport Run()
        {
            var w = model.Weights;
            IndexMatrices();
            CheckPlan();
            int calibrationTokens = PrepareCalibration();

            var layerIndices = model.Checkpoint.Tensors.Keys.Select(TensorNames.LayerOf).Where(l => l >= 0).Distinct().Order().ToList();
            using var writer = new QuantizedCheckpointWriter(request.Output, layerIndices.Count + 1);
            int total = layerIndices.Count;
            for (int i = 0; i < layerIndices.Count; i++)
            {
                int l = layerIndices[i];
                progress?.Report(new QuantizationProgress($"layer {l}", i, total));
                LayerWeights? layer = l < _c.NumHiddenLayers ? w.Layers[l] : w.Mtp.FirstOrDefault(m => m.Layer == l)?.Block;
                WriteLayer(writer, l, layer);
            }

            var rest = new SafeTensorsWriter();
            var names = new List<string>();
            foreach (var name in model.Checkpoint.Tensors.Keys.Where(n => TensorNames.LayerOf(n) < 0).Order(StringComparer.Ordinal))
            {
                if (!IsScaleOfWeight(name))
                {
                    names.AddRange(CopyTensor(rest, name));
                }
            }

            writer.WriteShard(rest, names);
            writer.Finish(request.Source, QuantizationConfig());
            progress?.Report(new QuantizationProgress("done", total, total));
            return new QuantizationReport(request.Output, _quantizedCount, _keptCount, writer.Bytes, calibrationTokens, _notes);
        }

        private void IndexMatrices()
        {
            var w = model.Weights;
            for (int l = 0; l < w.Layers.Length; l++)
            {
                AddLayer(l, w.Layers[l]);
            }

            foreach (var m in w.Mtp)
            {
                AddLayer(m.Layer, m.Block);
                _matrices[TensorNames.MtpEhProj(m.Layer)] = m.EhProj;
                if (!m.Head.IsEmpty)
                {
                    _matrices[TensorNames.MtpHead(m.Layer)] = m.Head;
                }

                if (!m.Embed.IsEmpty)
                {
                    _matrices[TensorNames.MtpEmbed(m.Layer)] = m.Embed;
                }
            }

            _matrices[TensorNames.Embed] = w.Embed;
            _matrices[TensorNames.LmHead] = w.LmHead;

            void AddLayer(int l, LayerWeights layer)
            {
                foreach (var (name, matrix) in LayerLinears.Each(l, layer))
                {
                    _matrices[name] = matrix;
                }

                if (layer.Moe is { } moe)
                {
                    _matrices[TensorNames.Router(l)] = moe.Router;
                }
            }
        }

        private bool Kept(string name) => request.Keep.Any(k => name.Contains(k, StringComparison.Ordinal));

        /// <summary>Every weight to quantize must fit the grid; checked before anything is written.</summary>
        private void CheckPlan()
        {
            foreach (var name in QuantizedNames())
            {
                var m = _matrices[name];
                if (request.Format != QuantFormat.Fp8 && _grid.Problem(name, m.Rows, m.Cols) is { } problem)
                {
                    string module = name.Split('.')[^2];
                    throw new ArgumentException(
                        $"{problem}. Choose a --group-size that divides every quantized layer's inputs, or keep such layers in high precision with --keep {module}");
                }
            }
        }

        private IEnumerable<string> QuantizedNames()
        {
            var w = model.Weights;
            var layers = w.Layers.Select((layer, l) => (l, layer)).Concat(w.Mtp.Select(m => (m.Layer, m.Block)));
            foreach (var (l, layer) in layers)
            {
                foreach (var (name, _) in LayerLinears.Each(l, layer))
                {
                    if (!Kept(name))
                    {
                        yield return name;
                    }
                }
            }
        }

        private int PrepareCalibration()
        {
            if (!request.NeedsCalibration)
            {
                return 0;
            }

            var tokens = request.CalibrationTokens ?? throw new ArgumentException($"--method {request.Method.ToString().ToLowerInvariant()} needs calibration text (--calibration FILE)");
            if (tokens.Count < QuantizationRequest.MinimumCalibrationTokens)
            {
                throw new ArgumentException(
                    $"the calibration text is too short: {tokens.Count} tokens, at least {QuantizationRequest.MinimumCalibrationTokens} are needed");
            }

            int length = Math.Min(request.SequenceLength, _c.MaxPositionEmbeddings);
            _sequences = Math.Min(request.MaxSequences, tokens.Count / length);
            int hiddenSize = _c.HiddenSize;
            _hidden = new float[(long)_sequences * length * hiddenSize];
            var ids = new int[length];
            for (int s = 0; s < _sequences; s++)
            {
                for (int t = 0; t < length; t++)
                {
                    ids[t] = tokens[(s * length) + t];
                }

                backend.Embedding(model.Weights.Embed, ids, _hidden.AsSpan(s * length * hiddenSize, length * hiddenSize));
            }

            return _sequences * length;
        }

        private int SequenceLength => Math.Min(request.SequenceLength, _c.MaxPositionEmbeddings);

        private void WriteLayer(QuantizedCheckpointWriter writer, int l, LayerWeights? layer)
        {
            var floats = new Dictionary<string, float[]>(StringComparer.Ordinal);
            var vectors = new Dictionary<string, float[]>(StringComparer.Ordinal);
            var quantized = new Dictionary<string, object>(StringComparer.Ordinal);
            if (layer is not null)
            {
                var linears = LayerLinears.Each(l, layer);
                foreach (var (name, m) in linears)
                {
                    floats[name] = Widen(m);
                }

                bool calibrate = request.NeedsCalibration && l < _c.NumHiddenLayers;
                if (request.NeedsCalibration && !calibrate)
                {
                    _notes.Add($"layer {l} (MTP) is not reached by the calibration pass: rounded to nearest");
                }

                var stats = calibrate ? Collect(l, layer, linears) : null;
                if (calibrate && request.Method == QuantMethod.Awq)
                {
                    ApplyAwq(l, layer, floats, vectors, stats!);
                }

                foreach (var (name, m) in linears)
                {
                    if (Kept(name))
                    {
                        continue;
                    }

                    quantized[name] = QuantizeOne(name, m, floats[name], stats);
                }

                if (calibrate)
                {
                    Propagate(l, Rebuild(l, layer, floats, vectors, quantized));
                }
            }

            var shard = new SafeTensorsWriter();
            var names = new List<string>();
            foreach (var name in model.Checkpoint.Tensors.Keys.Where(n => TensorNames.LayerOf(n) == l).Order(StringComparer.Ordinal))
            {
                if (IsScaleOfWeight(name))
                {
                    continue;
                }

                if (quantized.TryGetValue(name, out var q))
                {
                    names.AddRange(WriteQuantized(shard, name, q));
                    _quantizedCount++;
                }
                else if (vectors.TryGetValue(name, out var v))
                {
                    shard.Add(name, v, v.Length);
                    names.Add(name);
                }
                else if (floats.TryGetValue(name, out var f) && _modified.Contains(name))
                {
                    // A high-precision weight that AWQ rescaled (a kept projection, the router): float32.
                    var m = _matrices[name];
                    shard.Add(name, f, m.Rows, m.Cols);
                    names.Add(name);
                }
                else
                {
                    names.AddRange(CopyTensor(shard, name));
                }

                if (Kept(name) && floats.ContainsKey(name) && TensorNames.LayerOf(name) >= 0 && !name.EndsWith(".gate.weight", StringComparison.Ordinal))
                {
                    _keptCount++;
                }
            }

            writer.WriteShard(shard, names);
        }

        private readonly HashSet<string> _modified = new(StringComparer.Ordinal);

        private object QuantizeOne(string name, in WeightMatrix m, float[] values, Dictionary<string, InputStatistics>? stats)
        {
            if (request.Format == QuantFormat.Fp8)
            {
                return Fp8BlockQuantizer.Quantize(values, m.Rows, m.Cols);
            }

            if (request.Method == QuantMethod.Gptq && stats is not null && stats.TryGetValue(name, out var s))
            {
                if (s.Rows == 0)
                {
                    _notes.Add($"{name}: no calibration token reached it; rounded to nearest");
                    return QuantizedLinear.RoundToNearest(_grid, values, m.Rows, m.Cols);
                }

                var h = new double[s.Hessian.Length];
                for (int i = 0; i < h.Length; i++)
                {
                    h[i] = s.Hessian[i];
                }

                return Gptq.Quantize(_grid, values, m.Rows, m.Cols, h);
            }

            return QuantizedLinear.RoundToNearest(_grid, values, m.Rows, m.Cols);
        }

        /// <summary>Runs the layer (original weights) over the calibration sequences, collecting its linear inputs' statistics.</summary>
        private Dictionary<string, InputStatistics> Collect(int l, LayerWeights layer, List<(string Name, WeightMatrix Matrix)> linears)
        {
            var recorder = new CalibrationRecorder(backend);
            var stats = new Dictionary<string, InputStatistics>(StringComparer.Ordinal);
            foreach (var (name, m) in linears)
            {
                stats[name] = recorder.Watch(m);
            }

            var copy = (float[])_hidden.Clone();
            RunLayer(new DecoderLayer(_c, l, layer, recorder), copy);
            return stats;
        }

        /// <summary>The layer with quantized weights carries the calibration hidden states to the next layer.</summary>
        private void Propagate(int l, LayerWeights quantizedLayer) => RunLayer(new DecoderLayer(_c, l, quantizedLayer, backend), _hidden);

        private void RunLayer(DecoderLayer layer, float[] hidden)
        {
            int length = SequenceLength, hiddenSize = _c.HiddenSize, pairs = _c.QkRopeHeadDim / 2;
            var rope = new YarnRope(_c);
            var cos = new float[SequencesPerPass * length * pairs];
            var sin = new float[cos.Length];
            for (int s = 0; s < SequencesPerPass; s++)
            {
                for (int t = 0; t < length; t++)
                {
                    rope.Fill(t, cos.AsSpan(((s * length) + t) * pairs, pairs), sin.AsSpan(((s * length) + t) * pairs, pairs));
                }
            }

            var caches = Enumerable.Range(0, SequencesPerPass).Select(_ => new KvCache(_c, length)).ToArray();
            var layout = new BatchLayout();
            var scratch = new Scratch();
            for (int s0 = 0; s0 < _sequences; s0 += SequencesPerPass)
            {
                int count = Math.Min(SequencesPerPass, _sequences - s0);
                layout.Clear();
                for (int s = 0; s < count; s++)
                {
                    layout.Add(length, caches[s]);
                }

                int rows = count * length;
                layer.Forward(hidden.AsSpan(s0 * length * hiddenSize, rows * hiddenSize), layout, cos.AsSpan(0, rows * pairs), sin.AsSpan(0, rows * pairs), MlaMode.Expanded, scratch);
            }
        }

        /// <summary>
        /// AWQ's scaling groups of a DeepSeek layer, each a previous operation whose output feeds the group's
        /// weights: input norm → q_a (or q) and kv_a; q_a norm → q_b; kv_a norm → kv_b; kv_b's value rows →
        /// o; post-attention norm → every gate and up projection (and the router, scaled exactly in float);
        /// each up projection's rows → its down projection.
        /// </summary>
        private void ApplyAwq(int l, LayerWeights layer, Dictionary<string, float[]> floats, Dictionary<string, float[]> vectors, Dictionary<string, InputStatistics> stats)
        {
            var a = layer.Attention;
            var inputScales = new Dictionary<string, float[]>(StringComparer.Ordinal);
            var first = a.QA is not null ? new[] { TensorNames.QA(l), TensorNames.KvA(l) } : [TensorNames.Q(l), TensorNames.KvA(l)];
            Group(first, s => FoldNorm(TensorNames.InputNorm(l), layer.InputNorm, s));
            if (a.QB is not null)
            {
                Group([TensorNames.QB(l)], s => FoldNorm(TensorNames.QANorm(l), a.QANorm!, s));
            }

            Group([TensorNames.KvB(l)], s => FoldNorm(TensorNames.KvANorm(l), a.KvANorm, s));
            if (!Kept(TensorNames.KvB(l)))
            {
                Group([TensorNames.O(l)], s => FoldValueRows(TensorNames.KvB(l), s));
            }

            var ffns = LayerLinears.FeedForwards(l, layer);
            var gateUp = ffns.SelectMany(f => new[] { f.Gate, f.Up }).ToArray();
            Group(gateUp, s =>
            {
                FoldNorm(TensorNames.PostAttentionNorm(l), layer.PostAttentionNorm, s);
                if (layer.Moe is { } moe)
                {
                    string router = TensorNames.Router(l);
                    var r = floats.TryGetValue(router, out var existing) ? existing : floats[router] = Widen(moe.Router);
                    ScaleColumns(r, moe.Router.Cols, s);
                    _modified.Add(router);
                }
            });
            foreach (var f in ffns)
            {
                if (!Kept(f.Up))
                {
                    Group([f.Down], s => FoldRows(f.Up, s));
                }
            }

            // Then AWQ's clipping search on the scaled weights, except the query projections (as AWQ skips
            // q and k: their errors pass through the softmax).
            foreach (var (name, m) in LayerLinears.Each(l, layer))
            {
                bool query = name.Contains(".q_a_proj.", StringComparison.Ordinal) || name.Contains(".q_b_proj.", StringComparison.Ordinal) || name.Contains(".q_proj.", StringComparison.Ordinal);
                if (!query && !Kept(name) && stats[name].Rows > 0)
                {
                    AwqClipSearch.Apply(_grid, floats[name], m.Rows, m.Cols, stats[name].Hessian, inputScales.GetValueOrDefault(name));
                }
            }

            void Group(string[] consumers, Action<float[]> foldPrevious)
            {
                var members = consumers.Where(n => !Kept(n) && stats[n].Rows > 0).ToList();
                if (members.Count == 0)
                {
                    return;
                }

                int cols = _matrices[members[0]].Cols;
                var mean = new float[cols];
                long rows = 0;
                foreach (var n in members)
                {
                    for (int i = 0; i < cols; i++)
                    {
                        mean[i] += (float)stats[n].AbsSum[i];
                    }

                    rows += stats[n].Rows;
                }

                for (int i = 0; i < cols; i++)
                {
                    mean[i] /= rows;
                }

                var awqMembers = members.Select(n => new AwqMember(floats[n], _matrices[n].Rows, cols, stats[n].Hessian)).ToList();
                var (scales, _, _, _) = AwqScaleSearch.Search(_grid, awqMembers, mean);
                foreach (var n in consumers)
                {
                    ScaleColumns(floats[n], cols, scales);
                    _modified.Add(n);
                    inputScales[n] = scales;
                }

                foldPrevious(scales);
            }

            void FoldNorm(string name, float[] source, float[] s)
            {
                var v = vectors.TryGetValue(name, out var existing) ? existing : vectors[name] = (float[])source.Clone();
                for (int i = 0; i < v.Length; i++)
                {
                    v[i] /= s[i];
                }
            }

            void FoldRows(string name, float[] s)
            {
                var f = floats[name];
                int cols = _matrices[name].Cols;
                for (int r = 0; r < s.Length; r++)
                {
                    for (int k = 0; k < cols; k++)
                    {
                        f[(r * cols) + k] /= s[r];
                    }
                }

                _modified.Add(name);
            }

            // o_proj's input channel h·v + j is row h·(nope + v) + nope + j of kv_b_proj.
            void FoldValueRows(string name, float[] s)
            {
                var f = floats[name];
                int cols = _matrices[name].Cols, nope = _c.QkNopeHeadDim, v = _c.VHeadDim;
                for (int h = 0; h < _c.NumAttentionHeads; h++)
                {
                    for (int j = 0; j < v; j++)
                    {
                        int row = (h * (nope + v)) + nope + j;
                        for (int k = 0; k < cols; k++)
                        {
                            f[(row * cols) + k] /= s[(h * v) + j];
                        }
                    }
                }

                _modified.Add(name);
            }
        }

        private static void ScaleColumns(float[] w, int cols, float[] s)
        {
            for (int i = 0; i < w.Length; i++)
            {
                w[i] *= s[i % cols];
            }
        }

        private LayerWeights Rebuild(int l, LayerWeights layer, Dictionary<string, float[]> floats, Dictionary<string, float[]> vectors, Dictionary<string, object> quantized)
        {
            var rebuilt = LayerLinears.Map(l, layer, (name, m) => quantized.TryGetValue(name, out var q)
                ? ((QuantizedLinear)q).ToMatrix()
                : _modified.Contains(name) ? WeightMatrix.FromPinned(Pinned(floats[name]), m.Rows, m.Cols) : m);
            float[] Vec(string name, float[] original) => vectors.TryGetValue(name, out var v) ? v : original;
            var a = rebuilt.Attention;
            rebuilt = rebuilt with
            {
                InputNorm = Vec(TensorNames.InputNorm(l), rebuilt.InputNorm),
                PostAttentionNorm = Vec(TensorNames.PostAttentionNorm(l), rebuilt.PostAttentionNorm),
                Attention = a with
                {
                    QANorm = a.QANorm is null ? null : Vec(TensorNames.QANorm(l), a.QANorm),
                    KvANorm = Vec(TensorNames.KvANorm(l), a.KvANorm),
                },
            };
            if (rebuilt.Moe is { } moe && _modified.Contains(TensorNames.Router(l)))
            {
                rebuilt = rebuilt with { Moe = moe with { Router = WeightMatrix.FromPinned(Pinned(floats[TensorNames.Router(l)]), moe.Router.Rows, moe.Router.Cols) } };
            }

            return rebuilt;
        }

        private static float[] Pinned(float[] values)
        {
            var p = PinnedBuffer.Allocate(values.Length);
            values.CopyTo(p, 0);
            return p;
        }

        private static float[] Widen(in WeightMatrix m)
        {
            var values = new float[(long)m.Rows * m.Cols];
            for (int r = 0; r < m.Rows; r++)
            {
                m.DequantizeRow(r, values.AsSpan(r * m.Cols, m.Cols));
            }

            return values;
        }

        private List<string> WriteQuantized(SafeTensorsWriter shard, string name, object q)
        {
            var m = _matrices[name];
            string stem = IntegerWeightReader.Stem(name);
            switch (q)
            {
                case (byte[] codes, float[] scales):
                    shard.Add(name, DType.F8E4M3, [m.Rows, m.Cols], codes);
                    shard.Add(name + TensorNames.ScaleSuffix, scales, (m.Rows + 127) / 128, (m.Cols + 127) / 128);
                    return [name, name + TensorNames.ScaleSuffix];
                case QuantizedLinear { Grid.Scheme: IntegerScheme.Int8Channel } int8:
                    shard.Add(name, DType.I8, [m.Rows, m.Cols], int8.Codes.Select(v => (byte)(sbyte)v).ToArray());
                    shard.Add(name + IntegerWeightReader.WeightScaleSuffix, int8.Scales, m.Rows, 1);
                    return [name, name + IntegerWeightReader.WeightScaleSuffix];
                case QuantizedLinear int4:
                    var codes4 = int4.Codes.Select(v => (byte)v).ToArray();
                    var (qweight, qzeros, halfScales) = AwqPacking.Pack(codes4, int4.Zeros, int4.Scales, m.Cols, m.Rows, int4.Group);
                    shard.Add(stem + ".qweight", DType.I32, [m.Cols, m.Rows / 8], MemoryMarshal.AsBytes(qweight.AsSpan()).ToArray());
                    shard.Add(stem + ".qzeros", DType.I32, [m.Cols / int4.Group, m.Rows / 8], MemoryMarshal.AsBytes(qzeros.AsSpan()).ToArray());
                    shard.Add(stem + ".scales", DType.F16, [m.Cols / int4.Group, m.Rows], MemoryMarshal.AsBytes(halfScales.AsSpan()).ToArray());
                    return [stem + ".qweight", stem + ".qzeros", stem + ".scales"];
                default:
                    throw new InvalidOperationException(q.GetType().Name);
            }
        }

        private bool IsScaleOfWeight(string name) =>
            name.EndsWith(TensorNames.ScaleSuffix, StringComparison.Ordinal) && model.Checkpoint.Contains(name[..^TensorNames.ScaleSuffix.Length]);

        /// <summary>Copies a tensor as stored; FP8 matrices (whose block scales the new config no longer describes) become BF16.</summary>
        private List<string> CopyTensor(SafeTensorsWriter shard, string name)
        {
            var entry = model.Checkpoint.Find(name)!;
            if (entry.Type == DType.F8E4M3)
            {
                if (!_matrices.TryGetValue(name, out var m))
                {
                    throw new ModelFormatException($"{entry.File.Path}: FP8 tensor '{name}' is not a weight this quantizer knows how to widen");
                }

                var values = Widen(m);
                var bf = new byte[values.Length * 2];
                var target = MemoryMarshal.Cast<byte, ushort>(bf.AsSpan());
                for (int i = 0; i < values.Length; i++)
                {
                    target[i] = BFloat16.FromSingle(values[i]);
                }

                shard.Add(name, DType.BF16, [m.Rows, m.Cols], bf);
                return [name];
            }

            shard.Add(name, entry.Type, entry.Shape, entry.File.Bytes(entry).ToArray());
            return [name];
        }

        private JsonObject QuantizationConfig() => request.Format switch
        {
            QuantFormat.Int8 => new JsonObject { ["quant_method"] = "w8a8_int8" },
            QuantFormat.Int4 => new JsonObject
            {
                ["quant_method"] = "awq",
                ["bits"] = 4,
                ["group_size"] = request.GroupSize,
                ["zero_point"] = true,
                ["version"] = "gemm",
                ["modules_to_not_convert"] = new JsonArray([.. request.Keep.Select(k => (JsonNode?)JsonValue.Create(k))]),
            },
            _ => new JsonObject
            {
                ["quant_method"] = "fp8",
                ["fmt"] = "e4m3",
                ["activation_scheme"] = "dynamic",
                ["weight_block_size"] = new JsonArray(128, 128),
            },
        };
    }
}
