using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>WorkerPool hands out every index exactly once, reports failures, and survives them.</summary>
public sealed class WorkerPoolTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void RunsEveryIndexExactlyOnce(int threads)
    {
        using var pool = new WorkerPool(threads);
        Assert.Equal(threads, pool.ThreadCount);
        foreach (int count in new[] { 0, 1, 2, 3, 7, 64, 100, 1000, 4097 })
        {
            foreach (int minChunk in new[] { 1, 3, 64, 10_000 })
            {
                var job = new CountingJob(count, threads);
                pool.Run(job, count, minChunk);
                Assert.True(job.Hits.All(h => h == 1), $"count {count}, chunk {minChunk}: hits {string.Join(",", job.Hits.Where(h => h != 1).Take(5))}");
                Assert.Null(job.Problem);
            }
        }
    }

    [Fact]
    public void RunsChunksOnTheWorkerThreads()
    {
        using var pool = new WorkerPool(4);
        var job = new WaitForHelperJob();
        pool.Run(job, 100);
        Assert.True(job.HelperSeen, "no chunk ran on a worker thread within 10 s");
    }

    [Fact]
    public async Task JobsAfterIdleGapsAroundTheWorkersSleepStillCompleteOnTheWorkers()
    {
        // Idle workers watch for about 2 ms, then sleep until the caller wakes them: gaps on both sides of
        // that, and between the two, exercise the hand-over in both states (a lost wake-up would hang here).
        // As many threads as processors (at least two): a larger pool does not watch.
        int threads = Math.Max(2, Environment.ProcessorCount);
        using var pool = new WorkerPool(threads);
        var run = Task.Run(() =>
        {
            var random = new Random(7);
            for (int i = 0; i < 60; i++)
            {
                var job = new CountingJob(300, threads, spin: 20);
                pool.Run(job, 300, 10);
                Assert.True(job.Hits.All(h => h == 1), $"run {i}: an index ran other than once");
                Assert.Null(job.Problem);
                Thread.Sleep(TimeSpan.FromMicroseconds(random.Next(0, 5000)));
            }

            var helper = new WaitForHelperJob();
            Thread.Sleep(20);
            pool.Run(helper, 100);
            Assert.True(helper.HelperSeen, "no chunk ran on a worker woken from sleep within 10 s");
        });
        await run.WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void ExceptionFromAJobReachesTheCaller()
    {
        using var pool = new WorkerPool(3);
        var e = Assert.Throws<AggregateException>(() => pool.Run(new FailingJob(failAt: 50), 100));
        Assert.IsType<InvalidOperationException>(e.InnerException);
        Assert.Equal("index 50", e.InnerException!.Message);
    }

    [Fact]
    public void ExceptionFromAJobRunInlineReachesTheCaller()
    {
        // One thread (or a count within one chunk) runs on the caller without dispatch: the exception is not wrapped.
        using var pool = new WorkerPool(1);
        var e = Assert.Throws<InvalidOperationException>(() => pool.Run(new FailingJob(failAt: 5), 10));
        Assert.Equal("index 5", e.Message);
    }

    [Fact]
    public void PoolIsReusableAfterAFailure()
    {
        using var pool = new WorkerPool(3);
        for (int attempt = 0; attempt < 5; attempt++)
        {
            Assert.Throws<AggregateException>(() => pool.Run(new FailingJob(failAt: attempt * 20), 100));
            var job = new CountingJob(1000, 3);
            pool.Run(job, 1000);
            Assert.True(job.Hits.All(h => h == 1));
        }
    }

    [Fact]
    public void WorkerIndicesAreNeverSharedByConcurrentChunks()
    {
        using var pool = new WorkerPool(4);
        var job = new CountingJob(20_000, 4, spin: 200);
        pool.Run(job, 20_000);
        Assert.Null(job.Problem);
        Assert.True(job.Hits.All(h => h == 1));
    }

    [Fact]
    public void DisposedPoolRefusesWorkAndDisposeTwiceIsHarmless()
    {
        var pool = new WorkerPool(3);
        pool.Run(new CountingJob(100, 3), 100);
        pool.Dispose();
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Run(new CountingJob(10, 3), 10));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void APoolNeedsAThread(int threads)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(threads));
    }

    /// <summary>Counts visits per index and checks each chunk's range and worker index.</summary>
    private sealed class CountingJob(int count, int threads, int spin = 0) : IParallelJob
    {
        private readonly int[] _busy = new int[threads];

        public int[] Hits { get; } = new int[count];

        public string? Problem { get; private set; }

        public void Execute(int start, int end, int worker)
        {
            if ((uint)worker >= (uint)threads)
            {
                Problem = $"worker index {worker} outside [0, {threads})";
                return;
            }

            if (Interlocked.Exchange(ref _busy[worker], 1) != 0)
            {
                Problem = $"two chunks ran on worker {worker} at once";
            }

            if (start < 0 || end > count || start >= end)
            {
                Problem = $"bad range [{start}, {end})";
            }

            for (int i = start; i < end; i++)
            {
                Interlocked.Increment(ref Hits[i]);
                Thread.SpinWait(spin);
            }

            Volatile.Write(ref _busy[worker], 0);
        }
    }

    private sealed class FailingJob(int failAt) : IParallelJob
    {
        public void Execute(int start, int end, int worker)
        {
            if (failAt >= start && failAt < end)
            {
                throw new InvalidOperationException($"index {failAt}");
            }
        }
    }

    /// <summary>The caller's first chunk waits until a worker thread has run a chunk too.</summary>
    private sealed class WaitForHelperJob : IParallelJob
    {
        private volatile bool _helperSeen;

        public bool HelperSeen => _helperSeen;

        public void Execute(int start, int end, int worker)
        {
            if (worker != 0)
            {
                _helperSeen = true;
                return;
            }

            if (start == 0)
            {
                SpinWait.SpinUntil(() => _helperSeen, TimeSpan.FromSeconds(10));
            }
        }
    }
}
