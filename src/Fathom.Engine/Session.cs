using Fathom.Model;

namespace Fathom.Engine;

/// <summary>
/// One conversation's state: the KV cache and the token ids it holds. A new prompt that starts with the
/// same ids reuses the cached prefix (multi-turn chat recomputes only the new turn).
/// </summary>
public sealed class Session : IDisposable
{
    private readonly List<int> _tokens = [];

    internal Session(ISequenceCache cache)
    {
        Cache = cache;
    }

    public ISequenceCache Cache { get; }

    /// <summary>Token ids whose keys are in the cache, in order.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    public int Capacity => Cache.Capacity;

    public void Reset() => Truncate(0);

    internal void Truncate(int length)
    {
        Cache.Truncate(length);
        _tokens.RemoveRange(length, _tokens.Count - length);
    }

    internal void Append(ReadOnlySpan<int> ids) => _tokens.AddRange(ids);

    /// <summary>Returns the cache's storage (device pages for a GPU pass).</summary>
    public void Dispose() => Cache.Dispose();
}
