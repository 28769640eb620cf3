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
/// One job runs at a time (calls are serialised). Between jobs a worker watches for the next one for up to
/// <see cref="SpinTicks"/> before it sleeps, and the caller watches for the last chunk the same way: a decode
/// step is hundreds of jobs of tens of microseconds each, and waking a sleeping thread (a futex, and in a
/// virtual machine an interrupt to a halted virtual CPU) can take longer than the job. A pool with more
/// threads than the machine has processors does not watch (its watchers would take the cores from the
/// threads with work).
/// </summary>
public sealed class WorkerPool : IDisposable
{
    /// <summary>How long an idle thread watches before it sleeps: 2 ms.</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 500;

    private readonly long _spinTicks;
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    private readonly int[] _asleep;
    private readonly ManualResetEventSlim _done = new(false);
    private readonly Lock _runLock = new();
    private IParallelJob? _job;
    private int _count;
    private int _chunk;
    private int _next;
    private int _active;
    private int _generation;
    private Exception? _failure;
    private volatile bool _disposed;

    public WorkerPool(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "a pool needs at least one thread");
        }

        ThreadCount = threads;
        _spinTicks = threads <= Environment.ProcessorCount ? SpinTicks : 0;
        _threads = new Thread[threads - 1];
        _wake = [.. Enumerable.Range(0, threads - 1).Select(_ => new SemaphoreSlim(0))];
        _asleep = new int[threads - 1];
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
            // Every worker joins every job (one with nothing left to take leaves at once).
            _active = ThreadCount;
            _done.Reset();
            Interlocked.Increment(ref _generation);
            for (int i = 0; i < _wake.Length; i++)
            {
                if (Volatile.Read(ref _asleep[i]) != 0)
                {
                    _wake[i].Release();
                }
            }

            Work(0);
            if (Interlocked.Decrement(ref _active) != 0)
            {
                WaitForWorkers();
            }

            _job = null;
            if (_failure is not null)
            {
                throw new AggregateException("a parallel job failed", _failure);
            }
        }
    }

    /// <summary>The caller's wait for the last chunk: watching, then asleep on <see cref="_done"/>.</summary>
    private void WaitForWorkers()
    {
        long until = System.Diagnostics.Stopwatch.GetTimestamp() + _spinTicks;
        while (Volatile.Read(ref _active) != 0)
        {
            if (!Watching(until))
            {
                _done.Wait();
            }
        }
    }

    /// <summary>Spins a moment and says true while the watch that ends at <paramref name="until"/> lasts.</summary>
    private static bool Watching(long until)
    {
        if (System.Diagnostics.Stopwatch.GetTimestamp() >= until)
        {
            return false;
        }

        Thread.SpinWait(8);
        return true;
    }

    private void WorkerLoop(int worker)
    {
        int seen = 0;
        while (true)
        {
            long until = System.Diagnostics.Stopwatch.GetTimestamp() + _spinTicks;
            while (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                if (Watching(until))
                {
                    continue;
                }

                // Asleep from here: the caller releases the semaphore of a worker marked asleep after it
                // publishes a job; the mark comes first, so a job published in between is seen below.
                Interlocked.Exchange(ref _asleep[worker - 1], 1);
                if (Volatile.Read(ref _generation) == seen && !_disposed)
                {
                    _wake[worker - 1].Wait();
                }

                Interlocked.Exchange(ref _asleep[worker - 1], 0);
                until = System.Diagnostics.Stopwatch.GetTimestamp() + _spinTicks;
            }

            if (_disposed)
            {
                return;
            }

            seen = Volatile.Read(ref _generation);
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
        foreach (var wake in _wake)
        {
            wake.Release();
        }

        foreach (var t in _threads)
        {
            t.Join();
        }

        foreach (var wake in _wake)
        {
            wake.Dispose();
        }

        _done.Dispose();
    }
}
