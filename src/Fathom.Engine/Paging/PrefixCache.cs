namespace Fathom.Engine.Paging;

/// <summary>
/// Full KV pages that can be shared between sequences, found by a hash of their tokens chained with the hash
/// of every page before them (so equal pages after different prefixes never match). A page stays here after
/// its last holder lets go, idle but reusable, until the allocator needs it back: then the least recently
/// used idle page is evicted. Not thread-safe (the scheduler thread owns it).
/// </summary>
public sealed class PrefixCache
{
    private readonly Dictionary<ulong, int> _pageByHash = [];
    private readonly ulong[] _hashOfPage;
    private readonly ulong[] _parentOfPage;
    private readonly int[][] _tokensOfPage;
    private readonly bool[] _registered;
    private readonly LinkedList<int> _idle = new();
    private readonly LinkedListNode<int>?[] _idleNode;

    public PrefixCache(int pageCount, int pageSize)
    {
        PageSize = pageSize;
        _hashOfPage = new ulong[pageCount];
        _parentOfPage = new ulong[pageCount];
        _tokensOfPage = new int[pageCount][];
        _registered = new bool[pageCount];
        _idleNode = new LinkedListNode<int>?[pageCount];
    }

    /// <summary>The hash that stands for "nothing before" at the start of a sequence.</summary>
    public const ulong Root = 0x9E3779B97F4A7C15UL;

    public int PageSize { get; }

    /// <summary>Pages held by no sequence, kept for later hits.</summary>
    public int IdleCount => _idle.Count;

    public int CachedCount => _pageByHash.Count;

    /// <summary>The chained hash of a full page of tokens following a prefix whose hash is <paramref name="parent"/>.</summary>
    public static ulong Hash(ulong parent, ReadOnlySpan<int> tokens)
    {
        ulong h = parent;
        foreach (int t in tokens)
        {
            h = Mix(h ^ (uint)t);
        }

        return Mix(h ^ (ulong)tokens.Length);
    }

    /// <summary>The page holding exactly these tokens after this prefix, or -1.</summary>
    public int Find(ulong parent, ReadOnlySpan<int> tokens)
    {
        ulong hash = Hash(parent, tokens);
        if (_pageByHash.TryGetValue(hash, out int page) && _parentOfPage[page] == parent && tokens.SequenceEqual(_tokensOfPage[page]))
        {
            return page;
        }

        return -1;
    }

    /// <summary>Records a freshly computed full page; returns false when an equal page is already cached.</summary>
    public bool Register(int page, ulong parent, ReadOnlySpan<int> tokens)
    {
        ulong hash = Hash(parent, tokens);
        if (_registered[page] || _pageByHash.ContainsKey(hash))
        {
            return false;
        }

        _pageByHash[hash] = page;
        _hashOfPage[page] = hash;
        _parentOfPage[page] = parent;
        _tokensOfPage[page] = tokens.ToArray();
        _registered[page] = true;
        return true;
    }

    public bool IsRegistered(int page) => _registered[page];

    /// <summary>A registered page lost its last holder: keep it as the most recently used idle page.</summary>
    public void MarkIdle(int page) => _idleNode[page] = _idle.AddLast(page);

    /// <summary>An idle page got a holder again (a hit).</summary>
    public void MarkBusy(int page)
    {
        if (_idleNode[page] is { } node)
        {
            _idle.Remove(node);
            _idleNode[page] = null;
        }
    }

    /// <summary>Forgets the least recently used idle page and returns it; false when none is idle.</summary>
    public bool TryEvict(out int page)
    {
        if (_idle.First is not { } oldest)
        {
            page = -1;
            return false;
        }

        page = oldest.Value;
        _idle.RemoveFirst();
        _idleNode[page] = null;
        _pageByHash.Remove(_hashOfPage[page]);
        _registered[page] = false;
        _tokensOfPage[page] = [];
        return true;
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
