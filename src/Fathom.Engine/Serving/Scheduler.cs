using System.Collections.Concurrent;
using Fathom.Engine.Paging;
using Fathom.Model;
using Fathom.Tokenizer;

namespace Fathom.Engine.Serving;

/// <summary>
/// Continuous batching on one thread: each step takes new requests, plans a batch (decode steps of running
/// sequences plus prefill chunks of new ones), runs one forward pass over all of them on the paged cache,
/// samples, and publishes each request's tokens on its channel. Submit and cancel from any thread.
/// </summary>
public sealed partial class Scheduler : IDisposable
{
    private readonly IForwardPass _transformer;
    private readonly TextTokenizer? _tokenizer;
    private readonly EngineOptions _options;
    private readonly KvCacheManager _kv;
    private readonly BatchPlanner _planner;
    private readonly BatchPlan _plan = new();
    private readonly ConcurrentQueue<Sequence> _incoming = new();
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly List<Sequence> _running = [];
    private readonly HashSet<int> _eosIds;
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _thread;
    private readonly BatchEntry[] _entries;
    private readonly float[] _logits;
    private readonly LogitCandidates? _candidates;
    private bool _stepCandidates;
    private long _nextId;
    private int _queued;
    private volatile bool _draining;
    private volatile bool _stopping;

    /// <summary>Serves on <paramref name="transformer"/> (host or GPU); the KV pages live where that pass keeps them.</summary>
    public Scheduler(IForwardPass transformer, TextTokenizer? tokenizer, EngineOptions options)
    {
        options.Validate();
        _transformer = transformer;
        _tokenizer = tokenizer;
        _options = options with { MaxContext = Math.Min(options.MaxContext, transformer.Config.MaxPositionEmbeddings) };
        long pageBytes = PagedKvStorage.BytesPerToken(transformer.Config) * options.PageSize;
        long pages = options.KvCacheBytes / pageBytes;
        if (pages < 1)
        {
            throw Invalid("kv-cache-memory", $"kv-cache-memory of {options.KvCacheBytes} bytes holds no page: one page of {options.PageSize} tokens takes {pageBytes} bytes");
        }

        _kv = new KvCacheManager(transformer.CreatePagedPool((int)Math.Min(pages, int.MaxValue / 2), options.PageSize), options.PrefixCaching);
        int stepTokens = options.MaxStepTokens > 0 ? Math.Min(options.MaxStepTokens, transformer.MaxChunkTokens) : transformer.MaxChunkTokens;
        _planner = new BatchPlanner(_kv, options.MaxBatch, stepTokens);
        _eosIds = [.. transformer.Config.EosTokenIds];
        if (tokenizer?.EosId is int eos)
        {
            _eosIds.Add(eos);
        }

        _entries = new BatchEntry[Math.Min(options.MaxBatch, stepTokens)];
        _logits = new float[_entries.Length * transformer.VocabSize];
        _candidates = transformer.MaxCandidates > 0 ? new LogitCandidates(_entries.Length, transformer.MaxCandidates) : null;
        Statistics = new EngineStatistics { PageCount = _kv.PageCount, PageSize = _kv.PageSize };
        _thread = new Thread(Loop) { IsBackground = true, Name = "fathom-scheduler" };
        _thread.Start();
    }

    public EngineStatistics Statistics { get; }

    /// <summary>Tokens the KV pool holds in all (pages × page size).</summary>
    public int KvTokens => _kv.PageCount * _kv.PageSize;

    public long KvBytes => _kv.Storage.Bytes;

    /// <summary>Longest prompt + completion, after the model's own limit.</summary>
    public int MaxContext => _options.MaxContext;

    public int VocabSize => _transformer.VocabSize;

    public IReadOnlySet<int> EosIds => _eosIds;

    /// <summary>
    /// Queues a request. Throws <see cref="ArgumentException"/> for a request that can never run (naming the
    /// parameter) and <see cref="EngineOverloadedException"/> when the waiting queue is full or the engine stops.
    /// </summary>
    public RequestHandle Submit(Request request)
    {
        Validate(request);
        if (_draining || _stopping)
        {
            throw new EngineOverloadedException("the server is shutting down");
        }

        if (Interlocked.Increment(ref _queued) > _options.MaxWaiting)
        {
            Interlocked.Decrement(ref _queued);
            throw new EngineOverloadedException($"too many requests are waiting ({_options.MaxWaiting}); retry later");
        }

        var handle = new RequestHandle(request, Interlocked.Increment(ref _nextId));
        _incoming.Enqueue(new Sequence(handle, _kv.CreateSequence(), _transformer.VocabSize, _tokenizer));
        Statistics.AddWaiting(1);
        if (request.Cancellation.CanBeCanceled)
        {
            request.Cancellation.UnsafeRegister(static s => ((Scheduler)s!).Wake(), this);
        }

        _wake.Set();
        return handle;
    }

    /// <summary>Wakes the scheduler thread (a request arrived or was cancelled); harmless after disposal.</summary>
    private void Wake()
    {
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
            // Stopped already: its requests were cancelled and their pages released.
        }
    }

    /// <summary>Stops taking requests, lets those in flight finish for up to <paramref name="grace"/>, then cancels the rest and stops the thread.</summary>
    public void Shutdown(TimeSpan grace)
    {
        _draining = true;
        var deadline = DateTime.UtcNow + grace;
        while (DateTime.UtcNow < deadline && (Volatile.Read(ref _queued) > 0 || Statistics.Running > 0))
        {
            Thread.Sleep(10);
        }

        _stopping = true;
        _wake.Set();
        _thread.Join();
    }

    public void Dispose()
    {
        if (_thread.IsAlive)
        {
            Shutdown(TimeSpan.Zero);
        }

        _wake.Dispose();
        _kv.Storage.Dispose();
    }

    /// <summary>An argument error naming the API parameter at fault (not a C# parameter).</summary>
    private static ArgumentException Invalid(string parameter, string message) => new(message, parameter);

    private void Validate(Request request)
    {
        request.Sampling.Validate();
        request.Stop.Validate();
        int n = request.Prompt.Count, vocab = _transformer.VocabSize;
        if (n == 0)
        {
            throw Invalid("prompt", "the prompt is empty: at least one token is needed");
        }

        if (n >= _options.MaxContext)
        {
            throw Invalid("prompt", $"the prompt has {n} tokens but the context holds {_options.MaxContext} (prompt and completion together); shorten it");
        }

        if (_kv.PagesFor(n + 1) > _kv.PageCount)
        {
            throw Invalid("prompt", $"the prompt has {n} tokens but the KV cache holds {KvTokens}; shorten it or raise --kv-cache-memory");
        }

        foreach (int id in request.Prompt)
        {
            if ((uint)id >= (uint)vocab)
            {
                throw Invalid("prompt", $"prompt token id {id} is outside the vocabulary [0, {vocab})");
            }
        }

        if (request.TopLogprobs > 20)
        {
            throw Invalid("top_logprobs", $"top_logprobs must be in [0, 20] (got {request.TopLogprobs})");
        }
    }
}
