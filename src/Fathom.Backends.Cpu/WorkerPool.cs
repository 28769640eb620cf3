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
/// One job runs at a time (calls are serialised). A decode step is hundreds of jobs a few hundred
/// microseconds long with little serial work between them, so idle workers poll for the next job for a
/// while (<see cref="SpinTicks"/>) before they sleep, and the caller polls for the last chunk: a kernel
/// wake-up per job would cost as much as a small job.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 1000;

    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wakes;
    private readonly int[] _asleep;
    private readonly Lock _runLock = new();
    private int _generation;
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
        _wakes = [.. Enumerable.Range(0, threads - 1).Select(_ => new SemaphoreSlim(0))];
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
            _active = _threads.Length + 1;
            Interlocked.Increment(ref _generation);
            WakeSleepers();

            Work(0);
            Interlocked.Decrement(ref _active);
            var spin = default(SpinWait);
            while (Volatile.Read(ref _active) != 0)
            {
                spin.SpinOnce(sleep1Threshold: -1);
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
        // Generation 0 is the pool before its first job (a thread may start after that job is published).
        int seen = 0;
        while (true)
        {
            seen = AwaitJob(worker - 1, seen);
            if (_disposed)
            {
                return;
            }

            Work(worker);
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>Wakes every worker that went to sleep (each has its own semaphore, so no wake-up goes to the wrong one).</summary>
    private void WakeSleepers()
    {
        for (int i = 0; i < _asleep.Length; i++)
        {
            if (Interlocked.Exchange(ref _asleep[i], 0) == 1)
            {
                _wakes[i].Release();
            }
        }
    }

    /// <summary>Waits until a job newer than <paramref name="seen"/> is published; returns its generation.</summary>
    private int AwaitJob(int index, int seen)
    {
        long until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
        int polls = 0;
        while (true)
        {
            int now = Volatile.Read(ref _generation);
            if (now != seen || _disposed)
            {
                return now;
            }

            if (++polls % 64 != 0)
            {
                Thread.SpinWait(8);
                continue;
            }

            if (System.Diagnostics.Stopwatch.GetTimestamp() < until)
            {
                // Every few microseconds: give the core away if another thread wants it (more threads than cores).
                Thread.Yield();
                continue;
            }

            // Sleep: announce it, look once more (a job published before the announcement finds nobody
            // to wake), then wait. A wake-up left over from a sleep that found a job at that last look
            // only makes the next sleep return early: the loop checks the generation again.
            Volatile.Write(ref _asleep[index], 1);
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                _wakes[index].Wait();
            }

            Volatile.Write(ref _asleep[index], 0);
            until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
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
        foreach (var wake in _wakes)
        {
            wake.Release();
        }

        foreach (var t in _threads)
        {
            t.Join();
        }

        foreach (var wake in _wakes)
        {
            wake.Dispose();
        }
    }
}
