using System.Diagnostics;
using System.Runtime.Intrinsics;
using Fathom.Model;

namespace Fathom.Engine;

/// <summary>Measured memory bandwidth, in bytes per second per repetition, with the CPU share other processes took during each.</summary>
public sealed record BenchmarkBandwidth(
    int Threads,
    long ArrayBytes,
    BenchmarkSeries Triad,
    BenchmarkSeries Read,
    IReadOnlyList<double?> TriadOtherCpu,
    IReadOnlyList<double?> ReadOtherCpu);

/// <summary>
/// A STREAM-like measurement of what the weights of a decode step can at best stream through: the triad
/// a = b + s·c over three arrays (counted as STREAM counts it, 3 × array bytes, though write-allocate
/// makes the hardware move a fourth), and a read-only sum over the same three arrays. Each thread owns a
/// contiguous slice it first touched itself. The arrays are huge-page-advised anonymous memory, like
/// weights loaded with --load memory.
/// </summary>
public static unsafe class BenchmarkMemoryBandwidth
{
    public static BenchmarkBandwidth Measure(int threads, long arrayBytes, int repetitions, Action<string>? progress = null)
    {
        if (threads < 1 || repetitions < 1 || arrayBytes < 1024 * 1024)
        {
            throw new ArgumentException($"threads ({threads}) and repetitions ({repetitions}) must be positive and arrays at least 1 MiB (got {arrayBytes} bytes)");
        }

        // Whole 512-byte lines per thread slice, so the vector loops need no tails.
        long elements = arrayBytes / sizeof(double) / (64L * threads) * (64L * threads);
        using var a = new AnonymousMemory(elements * sizeof(double));
        using var b = new AnonymousMemory(elements * sizeof(double));
        using var c = new AnonymousMemory(elements * sizeof(double));
        double* pa = (double*)a.Pointer, pb = (double*)b.Pointer, pc = (double*)c.Pointer;
        long slice = elements / threads;
        var sums = new double[threads];
        var starts = new long[threads];
        var ends = new long[threads];
        var triad = new List<double>();
        var read = new List<double>();
        var triadOthers = new List<double?>();
        var readOthers = new List<double?>();

        // Phase 0 initialises, then each repetition runs phase 1 (triad) and phase 2 (read); the caller
        // takes part in the barrier only to collect each phase's time.
        using var barrier = new Barrier(threads + 1);
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int index = t;
            workers[t] = new Thread(() =>
            {
                long start = index * slice;
                barrier.SignalAndWait();
                Initialise(pa + start, pb + start, pc + start, slice);
                barrier.SignalAndWait();
                for (int r = 0; r < repetitions; r++)
                {
                    barrier.SignalAndWait();
                    starts[index] = Stopwatch.GetTimestamp();
                    Triad(pa + start, pb + start, pc + start, 3.0, slice);
                    ends[index] = Stopwatch.GetTimestamp();
                    barrier.SignalAndWait();
                    barrier.SignalAndWait();
                    starts[index] = Stopwatch.GetTimestamp();
                    sums[index] += Sum(pa + start, slice) + Sum(pb + start, slice) + Sum(pc + start, slice);
                    ends[index] = Stopwatch.GetTimestamp();
                    barrier.SignalAndWait();
                }
            })
            { IsBackground = true, Name = $"bandwidth {index}" };
            workers[t].Start();
        }

        barrier.SignalAndWait();
        barrier.SignalAndWait();
        double bytes = 3.0 * elements * sizeof(double);
        for (int r = 0; r < repetitions; r++)
        {
            var before = BenchmarkProcess.SampleCpu();
            triad.Add(bytes / Phase(barrier, starts, ends));
            var between = BenchmarkProcess.SampleCpu();
            read.Add(bytes / Phase(barrier, starts, ends));
            triadOthers.Add(BenchmarkProcess.OtherCpuShare(before, between));
            readOthers.Add(BenchmarkProcess.OtherCpuShare(between, BenchmarkProcess.SampleCpu()));
            progress?.Invoke($"repetition {r + 1}/{repetitions}: triad {triad[^1] / 1e9:F1} GB/s, read {read[^1] / 1e9:F1} GB/s (other processes {triadOthers[^1] * 100:F0}% / {readOthers[^1] * 100:F0}% CPU)");
        }

        foreach (var w in workers)
        {
            w.Join();
        }

        // The sums are kept (and checked) so the reads cannot be optimised away.
        if (sums.Any(s => !double.IsFinite(s)))
        {
            throw new InvalidOperationException("bandwidth test arrays hold non-finite values");
        }

        return new BenchmarkBandwidth(threads, elements * sizeof(double), new BenchmarkSeries(triad), new BenchmarkSeries(read), triadOthers, readOthers);
    }

    /// <summary>
    /// Seconds from the first worker's start to the last one's end. The workers read the clock themselves:
    /// on a busy machine the coordinating thread may be descheduled while they run, and its own clock
    /// readings would then miss part of the work.
    /// </summary>
    private static double Phase(Barrier barrier, long[] starts, long[] ends)
    {
        barrier.SignalAndWait();
        barrier.SignalAndWait();
        return (ends.Max() - starts.Min()) / (double)Stopwatch.Frequency;
    }

    private static void Initialise(double* a, double* b, double* c, long n)
    {
        for (long i = 0; i < n; i++)
        {
            a[i] = 0;
            b[i] = 1;
            c[i] = 2;
        }
    }

    private static void Triad(double* a, double* b, double* c, double s, long n)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var vs = Vector512.Create(s);
            for (long i = 0; i < n; i += 16)
            {
                Vector512.Store(Vector512.Load(b + i) + (vs * Vector512.Load(c + i)), a + i);
                Vector512.Store(Vector512.Load(b + i + 8) + (vs * Vector512.Load(c + i + 8)), a + i + 8);
            }
        }
        else
        {
            var vs = Vector256.Create(s);
            for (long i = 0; i < n; i += 8)
            {
                Vector256.Store(Vector256.Load(b + i) + (vs * Vector256.Load(c + i)), a + i);
                Vector256.Store(Vector256.Load(b + i + 4) + (vs * Vector256.Load(c + i + 4)), a + i + 4);
            }
        }
    }

    private static double Sum(double* p, long n)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<double> s0 = default, s1 = default, s2 = default, s3 = default;
            for (long i = 0; i < n; i += 32)
            {
                s0 += Vector512.Load(p + i);
                s1 += Vector512.Load(p + i + 8);
                s2 += Vector512.Load(p + i + 16);
                s3 += Vector512.Load(p + i + 24);
            }

            return Vector512.Sum(s0 + s1 + s2 + s3);
        }

        Vector256<double> t0 = default, t1 = default, t2 = default, t3 = default;
        for (long i = 0; i < n; i += 16)
        {
            t0 += Vector256.Load(p + i);
            t1 += Vector256.Load(p + i + 4);
            t2 += Vector256.Load(p + i + 8);
            t3 += Vector256.Load(p + i + 12);
        }

        return Vector256.Sum(t0 + t1 + t2 + t3);
    }
}
