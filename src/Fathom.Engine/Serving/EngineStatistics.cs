namespace Fathom.Engine.Serving;

/// <summary>What the scheduler reports about itself; written by the scheduler thread, read by anyone.</summary>
public sealed class EngineStatistics
{
    private int _running;
    private int _waiting;
    private int _usedPages;
    private long _promptTokens;
    private long _generatedTokens;
    private long _steps;
    private long _preemptions;

    public int Running => Volatile.Read(ref _running);

    public int Waiting => Volatile.Read(ref _waiting);

    public int UsedPages => Volatile.Read(ref _usedPages);

    public int PageCount { get; init; }

    public int PageSize { get; init; }

    public long PromptTokens => Interlocked.Read(ref _promptTokens);

    public long GeneratedTokens => Interlocked.Read(ref _generatedTokens);

    public long Steps => Interlocked.Read(ref _steps);

    public long Preemptions => Interlocked.Read(ref _preemptions);

    /// <summary>Prompt tokens looked up in the prefix cache and found there.</summary>
    public long PrefixLookupTokens { get; private set; }

    public long PrefixHitTokens { get; private set; }

    public double PrefixHitRate => PrefixLookupTokens == 0 ? 0 : (double)PrefixHitTokens / PrefixLookupTokens;

    /// <summary>Sequences per forward pass.</summary>
    public Histogram BatchSize { get; } = new(1, 2, 4, 8, 16, 32, 64, 128, 256);

    internal void SetQueues(int running, int waiting, int usedPages)
    {
        Volatile.Write(ref _running, running);
        Volatile.Write(ref _waiting, waiting);
        Volatile.Write(ref _usedPages, usedPages);
    }

    internal void AddWaiting(int delta) => Interlocked.Add(ref _waiting, delta);

    internal void Step(int sequences, long preemptions)
    {
        Interlocked.Increment(ref _steps);
        Interlocked.Exchange(ref _preemptions, preemptions);
        BatchSize.Observe(sequences);
    }

    internal void Admitted(int promptTokens) => Interlocked.Add(ref _promptTokens, promptTokens);

    internal void Generated() => Interlocked.Increment(ref _generatedTokens);

    internal void SetPrefix(long lookup, long hits)
    {
        PrefixLookupTokens = lookup;
        PrefixHitTokens = hits;
    }
}
