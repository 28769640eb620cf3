namespace Fathom.Backends.Cpu;

/// <summary>Work split into index ranges; implementations are reused objects so dispatch allocates nothing.</summary>
public interface IParallelJob
{
    /// <summary>Processes items [start, end) on worker <paramref name="worker"/> (0 = the calling thread).</summary>
    void Execute(int start, int end, int worker);
}

/// <summary>
/// A persistent pool of worker threads sized to the cores. <see cref="Run"/> hands out chunks of an index
/// range from a shared counter; the calling thread works too and returns when every chunk is done.
/// One job runs at a time (calls are serialised).
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim _start = new(0);
    private readonly ManualResetEventSlim _done = new(false);
    private readonly Lock _runLock = new();
    private IParallelJob? _job;
    private int _count;
    private int _chunk;
    private int _next;
    private int _active;
    private Exception? _failure;
    private volatile bool _disposed;

    public WorkerPool(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "a pool needs at least one thread");
        }

        ThreadCount = threads;
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int worker = i + 1;
            _threads[i] = new Thread(() => WorkerLoop(worker)) { IsBackground = true, Name = $"fathom-worker-{worker}" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads that run a job, the caller included.</summary>
    public int ThreadCount { get; }

    /// <summary>Runs <paramref name="job"/> over [0, count) in chunks of at least <paramref name="minChunk"/> items.</summary>
    public void Run(IParallelJob job, int count, int minChunk = 1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0)
        {
            return;
        }

        // Small jobs are not worth waking anybody.
        if (ThreadCount == 1 || count <= minChunk)
        {
            job.Execute(0, count, 0);
            return;
        }

        lock (_runLock)
        {
            _job = job;
            _count = count;
            _chunk = Math.Max(minChunk, count / (ThreadCount * 4));
            _next = 0;
            _failure = null;
            int helpers = Math.Min(_threads.Length, ((count + _chunk - 1) / _chunk) - 1);
            _active = helpers + 1;
            _done.Reset();
            if (helpers > 0)
            {
                _start.Release(helpers);
            }

            Work(0);
            if (Interlocked.Decrement(ref _active) != 0)
            {
                _done.Wait();
            }

            _job = null;
            if (_failure is not null)
            {
                throw new AggregateException("a parallel job failed", _failure);
            }
        }
    }

    private void WorkerLoop(int worker)
    {
        while (true)
        {
            _start.Wait();
            if (_disposed)
            {
                return;
            }

            Work(worker);
            if (Interlocked.Decrement(ref _active) == 0)
            {
                _done.Set();
            }
        }
    }

    private void Work(int worker)
    {
        var job = _job!;
        try
        {
            while (true)
            {
                int start = Interlocked.Add(ref _next, _chunk) - _chunk;
                if (start >= _count)
                {
                    return;
                }

                job.Execute(start, Math.Min(start + _chunk, _count), worker);
            }
        }
        catch (Exception e)
        {
            _failure ??= e;
            Volatile.Write(ref _next, int.MaxValue / 2);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_threads.Length > 0)
        {
            _start.Release(_threads.Length);
        }

        foreach (var t in _threads)
        {
            t.Join();
        }

        _start.Dispose();
        _done.Dispose();
    }
}
