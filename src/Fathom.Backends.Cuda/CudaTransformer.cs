using Fathom.Backends.Cuda.Interop;
using Fathom.Model;

namespace Fathom.Backends.Cuda;

/// <summary>
/// The DeepSeek forward pass on one NVIDIA GPU: weights resident in their stored type (BF16, FP8 with
/// block scales, F32), activations and the paged latent cache in device memory, every layer's math in
/// CUDA kernels (see Kernels/*.cu), and only token ids in and logits out crossing PCIe. Decode steps are
/// captured once per shape as CUDA graphs and replayed. One caller at a time.
/// </summary>
public sealed unsafe partial class CudaTransformer : IForwardPass, IDisposable
{
    private const int LogitChunk = 256;
    private const int AttentionChunkLimit = 4096;
    private const int CandidateLimit = 128;

    /// <summary>Floats before the latent values of an attention split's partial result (PART_HEAD in attention.cu: max, sum, two unused).</summary>
    private const int PartialHead = 4;

    private readonly CudaContext _gpu;
    private readonly ModelConfig _c;
    private readonly CudaModelWeights _w;
    private readonly CudaKvPool _pool;
    private readonly YarnRope _rope;
    private readonly CudaOptions _options;
    private readonly CublasLt? _lt;
    private readonly bool _round;
    private readonly Buffers _b;
    private readonly nint _hostInputs;
    private readonly float* _hostLogits;
    private readonly byte* _hostCandidates;
    private readonly int* _hostOffsets;
    private bool _eager;

    /// <summary>This pass streams BF16/FP8 products through the tensor-core kernels (see <see cref="CudaOptions.TensorCoreStreamingMaxTokens"/>).</summary>
    private bool _mmaPass;
    private readonly ulong _candidates;
    private readonly Dictionary<(int Tokens, int Rows, int Splits), nint> _graphs = [];
    private readonly List<CudaSequenceCache> _stepCaches = [];
    private readonly List<int> _stepCounts = [];
    private ulong _partial;
    private long _partialFloats;
    private bool _disposed;

    public CudaTransformer(LoadedModel model, CudaOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxChunkTokens, 1);
        _options = options;
        _c = model.Config;
        if (_c.QkNopeHeadDim > 256)
        {
            throw new NotSupportedException($"qk_nope_head_dim {_c.QkNopeHeadDim} is above the 256 the query-absorption kernel holds");
        }

        if (_c.KvLoraRank % 4 != 0 || _c.KvCacheWidth % 4 != 0)
        {
            throw new NotSupportedException($"kv_lora_rank {_c.KvLoraRank} and qk_rope_head_dim {_c.QkRopeHeadDim}: the attention kernels read latent rows four floats at a time, so both the latent and the cache row width ({_c.KvCacheWidth}) must be multiples of 4");
        }

        if (_c.NumExpertsPerTok > 32)
        {
            throw new NotSupportedException($"num_experts_per_tok {_c.NumExpertsPerTok}: the router kernel holds at most 32 chosen experts per token (a lane each)");
        }

        if (_c.NRoutedExperts > 512 || _c.NGroup > 64)
        {
            throw new NotSupportedException($"{_c.NRoutedExperts} experts in {_c.NGroup} groups: the router kernel takes at most 512 experts in 64 groups");
        }

        _gpu = new CudaContext(options.Device, options);
        try
        {
            long before = _gpu.AllocatedBytes;
            _w = new CudaModelWeights(_gpu, model.Weights, _c);
            WeightBytes = _gpu.AllocatedBytes - before;
            int kvTokens = options.KvCacheBytes is long bytes
                ? (int)Math.Clamp(bytes / ((long)_c.NumHiddenLayers * _c.KvCacheWidth * sizeof(float)), 1, int.MaxValue / 2)
                : options.KvCacheTokens;
            int maxContext = Math.Min(_c.MaxPositionEmbeddings, kvTokens);
            _pool = new CudaKvPool(_gpu, _c.NumHiddenLayers, _c.KvCacheWidth, options.PageTokens, kvTokens, options.MaxSequences, maxContext);
            _rope = new YarnRope(_c);
            _round = options.Bf16Activations;
            before = _gpu.AllocatedBytes;
            _b = new Buffers(_gpu, _c, _w, options.MaxChunkTokens, LogitChunk, _round,
                options.MmaPreparedInputs ? options.TensorCoreStreamingMaxTokens : 0, options.MmaPreparedDense ? options.TensorCoreStreamingMaxTokens : 0);
            if (_round)
            {
                _lt = new CublasLt(options.LibraryFolders, _b.Workspace, (nuint)Buffers.WorkspaceBytes);
            }

            var inputs = new StepInputs(options.MaxChunkTokens, _c.QkRopeHeadDim / 2);
            _hostInputs = _gpu.AllocateHost(inputs.Bytes);
            _hostLogits = (float*)_gpu.AllocateHost((long)LogitChunk * _c.VocabSize * sizeof(float));
            _hostCandidates = (byte*)_gpu.AllocateHost(CandidateBytes);
            _hostOffsets = (int*)_gpu.AllocateHost((Math.Max(1, _c.NRoutedExperts) + 1) * sizeof(int));
            _candidates = _gpu.Allocate(CandidateBytes, "logit candidates");
            ScratchBytes = _gpu.AllocatedBytes - before;
        }
        catch
        {
            _gpu.Dispose();
            throw;
        }
    }

    public ModelConfig Config => _c;

    public int VocabSize => _c.VocabSize;

    public int MaxChunkTokens => _options.MaxChunkTokens;

    public string Device => $"cuda:{_gpu.Ordinal} ({_gpu.Name})";

    /// <summary>Candidates per row that <see cref="Forward(ReadOnlySpan{BatchEntry}, LogitCandidates, int)"/> returns at most (bounded by the vocabulary).</summary>
    public int MaxCandidates => Math.Min(CandidateLimit, _c.VocabSize);

    /// <summary>[LogitChunk, limit] values, [LogitChunk, limit] ids, [LogitChunk] log-sum-exp.</summary>
    private static long CandidateBytes => ((long)LogitChunk * CandidateLimit * 8) + (LogitChunk * 4);

    public string DeviceName => _gpu.Name;

    /// <summary>Whether the kernels came from the on-disk cache rather than a fresh NVRTC compile.</summary>
    public bool KernelsFromCache => _gpu.KernelsFromCache;

    public string NvrtcVersion => _gpu.NvrtcVersion;

    /// <summary>Whether kernels are launched to overlap their predecessors (see <see cref="CudaOptions.ProgrammaticLaunch"/>).</summary>
    public bool ProgrammaticLaunch => _gpu.ProgrammaticLaunch;

    public long WeightBytes { get; }

    public long ScratchBytes { get; }

    public DeviceMemoryReport Memory()
    {
        var (free, total) = _gpu.MemoryInfo();
        return new DeviceMemoryReport(WeightBytes, _pool.Bytes, ScratchBytes + (_partialFloats * 4), total - free, total);
    }

    /// <summary>Measured device copy bandwidth (read + write bytes/s) over 1 GiB buffers.</summary>
    public double MeasureCopyBandwidth() => _gpu.MeasureCopyBandwidth(1L << 30);

    public ISequenceCache CreateCache(int capacity) => new CudaOwnedSequenceCache(_pool, this, capacity);

    /// <summary>
    /// Sets aside pages of the device latent cache for a caller's page accounting; the page size is the
    /// one the pass was opened with (<see cref="CudaOptions.PageTokens"/>).
    /// </summary>
    public IPagedKvPool CreatePagedPool(int pageCount, int pageSize)
    {
        _gpu.MakeCurrent();
        return new CudaPagedPool(_pool, this, pageCount, pageSize);
    }

    public void Forward(ReadOnlySpan<int> tokens, ISequenceCache cache, Span<float> logits, LogitsSelection selection = LogitsSelection.Last)
    {
        var own = Own(cache);
        Validate(tokens, own);
        CheckLogits(logits, selection == LogitsSelection.All ? tokens.Length : 1);
        int vocab = VocabSize;
        for (int done = 0; done < tokens.Length; done += MaxChunkTokens)
        {
            int n = Math.Min(MaxChunkTokens, tokens.Length - done);
            bool last = done + n == tokens.Length;
            var chunkLogits = selection == LogitsSelection.All
                ? logits.Slice(done * vocab, n * vocab)
                : last ? logits[..vocab] : default;
            _stepCaches.Clear();
            _stepCounts.Clear();
            _stepCaches.Add(own);
            _stepCounts.Add(n);
            Run(tokens.Slice(done, n), chunkLogits, selection == LogitsSelection.All);
        }
    }

    public void Forward(ReadOnlySpan<BatchEntry> batch, Span<float> logits, LogitsSelection selection = LogitsSelection.Last)
    {
        int total = StageBatch(batch);
        CheckLogits(logits, selection == LogitsSelection.All ? total : batch.Length);
        var ids = new Span<int>((void*)(_hostInputs + (nint)new StepInputs(total, _c.QkRopeHeadDim / 2).Ids), total);
        Run(ids, logits, selection == LogitsSelection.All);
    }

    /// <summary>
    /// One pass with one logits row per sequence, of which only each row's <paramref name="k"/> largest
    /// values (and the row's log-sum-exp) come back: a selection kernel on the device instead of the
    /// whole vocabulary over PCIe.
    /// </summary>
    public void Forward(ReadOnlySpan<BatchEntry> batch, LogitCandidates candidates, int k)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        if (k < 1 || k > MaxCandidates)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"between 1 and {MaxCandidates} candidates per row");
        }

        int total = StageBatch(batch);
        candidates.Reset(batch.Length, k);
        var ids = new Span<int>((void*)(_hostInputs + (nint)new StepInputs(total, _c.QkRopeHeadDim / 2).Ids), total);
        Run(ids, default, false, candidates);
    }

    /// <summary>Checks a batch, records its caches for the pass and stages its token ids; returns the token count.</summary>
    private int StageBatch(ReadOnlySpan<BatchEntry> batch)
    {
        if (batch.IsEmpty)
        {
            throw new ArgumentException("the batch is empty", nameof(batch));
        }

        if (batch.Length > LogitChunk)
        {
            throw new ArgumentException($"the batch holds {batch.Length} sequences, more than the {LogitChunk} one pass takes; split it", nameof(batch));
        }

        int total = 0;
        _stepCaches.Clear();
        _stepCounts.Clear();
        for (int s = 0; s < batch.Length; s++)
        {
            var own = Own(batch[s].Cache);
            Validate(batch[s].Tokens.Span, own);
            for (int t = 0; t < s; t++)
            {
                if (ReferenceEquals(batch[t].Cache, own))
                {
                    throw new ArgumentException($"sequences {t} and {s} of the batch share one cache", nameof(batch));
                }
            }

            total += batch[s].Tokens.Length;
            _stepCaches.Add(own);
            _stepCounts.Add(batch[s].Tokens.Length);
        }

        if (total > MaxChunkTokens)
        {
            throw new ArgumentException($"the batch holds {total} tokens, more than the {MaxChunkTokens} one pass takes; split it", nameof(batch));
        }

        var inputs = new StepInputs(total, _c.QkRopeHeadDim / 2);
        var ids = new Span<int>((void*)(_hostInputs + (nint)inputs.Ids), total);
        int row = 0;
        foreach (var entry in batch)
        {
            entry.Tokens.Span.CopyTo(ids[row..]);
            row += entry.Tokens.Length;
        }

        return total;
    }

    private CudaSequenceCache Own(ISequenceCache cache) => cache is CudaSequenceCache c && ReferenceEquals(c.Owner, this)
        ? c
        : throw new ArgumentException($"a {cache.GetType().Name} from another forward pass cannot be used with {Device}", nameof(cache));

    private void Validate(ReadOnlySpan<int> tokens, CudaSequenceCache cache) => ForwardArguments.CheckTokens(tokens, cache, VocabSize);

    private void CheckLogits(Span<float> logits, int rows) => ForwardArguments.CheckLogits(logits, rows, VocabSize);

    /// <summary>
    /// One pass over the sequences in _stepCaches/_stepCounts whose token ids are <paramref name="tokens"/>
    /// (they may already lie in the staging buffer).
    /// </summary>
    private void Run(ReadOnlySpan<int> tokens, Span<float> logits, bool allRows, LogitCandidates? candidates = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _gpu.MakeCurrent();
        int n = tokens.Length, pairs = _c.QkRopeHeadDim / 2, heads = _c.NumAttentionHeads;
        var layout = new StepInputs(n, pairs);
        byte* host = (byte*)_hostInputs;
        var ids = new Span<int>(host + layout.Ids, n);
        if (!tokens.Overlaps(ids))
        {
            tokens.CopyTo(ids);
        }

        var seq = new Span<int>(host + layout.Seq, n);
        var len = new Span<int>(host + layout.Len, n);
        var slots = new Span<long>(host + layout.Slots, n);
        var cos = new Span<float>(host + layout.Cos, n * pairs);
        var sin = new Span<float>(host + layout.Sin, n * pairs);
        var rows = new Span<int>(host + layout.Rows, n);
        int t = 0, maxLen = 0, logitRows = 0;
        for (int s = 0; s < _stepCaches.Count; s++)
        {
            var cache = _stepCaches[s];
            int count = _stepCounts[s], start = cache.Length;
            cache.EnsurePages(start + count);
            for (int i = 0; i < count; i++, t++)
            {
                int position = start + i;
                seq[t] = cache.Slot;
                len[t] = position + 1;
                slots[t] = cache.RowOf(position);
                _rope.Fill(position, cos.Slice(t * pairs, pairs), sin.Slice(t * pairs, pairs));
                if (allRows)
                {
                    rows[logitRows++] = t;
                }
            }

            maxLen = Math.Max(maxLen, start + count);
            if (!allRows)
            {
                rows[logitRows++] = t - 1;
            }
        }

        // Enough (token, head, split) blocks to fill the GPU twice over (fewer, longer splits measured
        // slower: one block walks its positions serially), none beyond the shared-memory score buffer.
        // The split count only changes with the batch shape, so a captured decode graph stays valid as
        // the context grows (the chunk length is read from device memory).
        int splits = Math.Max(1, ((2 * _gpu.Multiprocessors) + (n * heads) - 1) / (n * heads));
        splits = Math.Max(splits, (maxLen + AttentionChunkLimit - 1) / AttentionChunkLimit);
        *(int*)(host + layout.Chunk) = (maxLen + splits - 1) / splits;
        EnsurePartial((long)n * heads * splits * (_c.KvLoraRank + PartialHead));
        _gpu.Overlap = _lt is null || n < _options.CublasMinTokens;
        _gpu.UploadAsync(_b.Inputs, host, layout.Bytes);

        // Only decode steps (one token per sequence) are captured: their shapes repeat every step, while a
        // serving step that mixes prefill chunks has a new token count almost every time (a graph per
        // count would pile up device memory and capture time for no replay).
        bool graph = _options.CudaGraphs && !allRows && n <= 256 && n == logitRows;
        int headRows = allRows ? 0 : logitRows;
        // The grouped tensor-core expert path reads the expert offsets on the host: not inside a capture.
        _eager = !graph;
        if (graph)
        {
            var key = (n, headRows, splits);
            if (!_graphs.TryGetValue(key, out nint exec))
            {
                exec = Capture(() => Body(n, layout, splits, headRows));
                _graphs[key] = exec;
            }

            CudaDriver.Check(CudaDriver.cuGraphLaunch(exec, _gpu.Stream), "cuGraphLaunch");
        }
        else
        {
            Body(n, layout, splits, headRows);
        }

        if (candidates is not null)
        {
            CopyCandidates(candidates, logitRows);
        }
        else if (!logits.IsEmpty)
        {
            if (allRows)
            {
                for (int first = 0; first < n; first += LogitChunk)
                {
                    int count = Math.Min(LogitChunk, n - first);
                    Head(_b.Hidden + (ulong)((long)first * _c.HiddenSize * 4), 0, count);
                    CopyLogits(logits.Slice(first * VocabSize, count * VocabSize), count);
                }
            }
            else
            {
                CopyLogits(logits, logitRows);
            }
        }
        else
        {
            _gpu.Synchronize();
        }

        for (int s = 0; s < _stepCaches.Count; s++)
        {
            _stepCaches[s].Advance(_stepCounts[s]);
        }
    }

    private void CopyCandidates(LogitCandidates candidates, int rows)
    {
        int k = candidates.K;
        ulong values = _candidates, ids = _candidates + (ulong)((long)rows * k * 4), lse = ids + (ulong)((long)rows * k * 4);
        _gpu.Launch("logit_candidates", (uint)rows, 1, 1, 1024, 0, _b.Logits, VocabSize, k, values, ids, lse);
        long bytes = ((long)rows * k * 8) + (rows * 4L);
        _gpu.DownloadAsync(_hostCandidates, _candidates, bytes);
        _gpu.Synchronize();
        new ReadOnlySpan<float>(_hostCandidates, rows * k).CopyTo(candidates.AllValues);
        new ReadOnlySpan<int>(_hostCandidates + ((long)rows * k * 4), rows * k).CopyTo(candidates.AllIds);
        new ReadOnlySpan<float>(_hostCandidates + ((long)rows * k * 8), rows).CopyTo(candidates.LogSumExp);
    }

    private void CopyLogits(Span<float> logits, int rows)
    {
        long count = (long)rows * VocabSize;
        _gpu.DownloadAsync(_hostLogits, _b.Logits, count * sizeof(float));
        _gpu.Synchronize();
        new ReadOnlySpan<float>(_hostLogits, checked((int)count)).CopyTo(logits);
    }

    private nint Capture(Action body)
    {
        CudaDriver.Check(CudaDriver.cuStreamBeginCapture_v2(_gpu.Stream, CudaDriver.CaptureModeRelaxed), "cuStreamBeginCapture");
        nint graph;
        try
        {
            body();
        }
        catch
        {
            CudaDriver.cuStreamEndCapture(_gpu.Stream, out graph);
            if (graph != 0)
            {
                CudaDriver.cuGraphDestroy(graph);
            }

            throw;
        }

        CudaDriver.Check(CudaDriver.cuStreamEndCapture(_gpu.Stream, out graph), "cuStreamEndCapture");
        try
        {
            CudaDriver.Check(CudaDriver.cuGraphInstantiateWithFlags(out nint exec, graph, 0), "cuGraphInstantiate");
            return exec;
        }
        finally
        {
            CudaDriver.cuGraphDestroy(graph);
        }
    }

    private void EnsurePartial(long floats)
    {
        if (floats <= _partialFloats)
        {
            return;
        }

        if (_partial != 0)
        {
            _gpu.Synchronize();
            _gpu.Free(_partial, _partialFloats * 4);
        }

        // Graphs captured the old address.
        DropGraphs();
        _partialFloats = Math.Max(floats, _partialFloats * 2);
        _partial = _gpu.Allocate(_partialFloats * 4, "attention partial sums");
    }

    private void DropGraphs()
    {
        foreach (nint exec in _graphs.Values)
        {
            CudaDriver.cuGraphExecDestroy(exec);
        }

        _graphs.Clear();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _gpu.MakeCurrent();
        DropGraphs();
        _lt?.Dispose();
        _gpu.Dispose();
    }
}
