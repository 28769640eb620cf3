using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace Fathom.Tokenizer.Bpe;

/// <summary>
/// A byte-level BPE model: the vocabulary, the merge ranks, and the word-to-ids encoder with a cache.
/// Words arrive as text; their UTF-8 bytes are the initial symbols, which are merged lowest rank first
/// (leftmost first among equal ranks), as HF's BPE does.
/// </summary>
internal sealed class BpeModel
{
    private const int CacheCapacity = 50_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<long, Merge> _merges;
    private readonly int[] _byteIds;
    private readonly int? _unknownId;
    private readonly bool _fuseUnknown;
    private readonly bool _ignoreMerges;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;

    public BpeModel(Dictionary<string, int> vocab, Dictionary<long, Merge> merges, int? unknownId, bool fuseUnknown, bool ignoreMerges)
    {
        _vocab = vocab;
        _merges = merges;
        _unknownId = unknownId;
        _fuseUnknown = fuseUnknown;
        _ignoreMerges = ignoreMerges;
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        _byteIds = new int[256];
        for (var b = 0; b < 256; b++)
        {
            _byteIds[b] = vocab.TryGetValue(ByteLevelAlphabet.ToChar((byte)b).ToString(), out var id) ? id : -1;
        }
    }

    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    public static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Encode(ReadOnlySpan<char> word, List<int> output)
    {
        if (word.IsEmpty)
        {
            return;
        }

        if (!_cacheBySpan.TryGetValue(word, out var ids))
        {
            ids = EncodeUncached(word);
            if (_cache.Count < CacheCapacity)
            {
                _cacheBySpan.TryAdd(word, ids);
            }
        }

        output.AddRange(ids);
    }

    private int[] EncodeUncached(ReadOnlySpan<char> word)
    {
        var byteCount = Encoding.UTF8.GetByteCount(word);
        var rented = ArrayPool<byte>.Shared.Rent(byteCount);
        try
        {
            var bytes = rented.AsSpan(0, byteCount);
            Encoding.UTF8.GetBytes(word, bytes);
            if (_ignoreMerges && _vocab.TryGetValue(ByteLevelAlphabet.Encode(bytes), out var whole))
            {
                return [whole];
            }

            return MergeWord(InitialSymbols(bytes));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private List<int> InitialSymbols(ReadOnlySpan<byte> bytes)
    {
        var symbols = new List<int>(bytes.Length);
        var previousWasUnknown = false;
        foreach (var b in bytes)
        {
            var id = _byteIds[b];
            if (id >= 0)
            {
                symbols.Add(id);
                previousWasUnknown = false;
            }
            else if (_unknownId is { } unknown && !(_fuseUnknown && previousWasUnknown))
            {
                // Without an unknown token HF silently drops a byte missing from the vocabulary.
                symbols.Add(unknown);
                previousWasUnknown = true;
            }
        }

        return symbols;
    }

    /// <summary>
    /// Applies merges with a priority queue over (rank, position) and a linked list of symbols, so long words
    /// stay O(n log n); stale queue entries are recognised by re-checking the pair they were made for.
    /// </summary>
    private int[] MergeWord(List<int> initial)
    {
        var count = initial.Count;
        if (count <= 1)
        {
            return [.. initial];
        }

        var ids = initial.ToArray();
        var next = new int[count];
        var previous = new int[count];
        var queue = new PriorityQueue<(int Position, int NewId), long>();
        for (var i = 0; i < count; i++)
        {
            next[i] = i + 1 < count ? i + 1 : -1;
            previous[i] = i - 1;
        }

        for (var i = 0; i + 1 < count; i++)
        {
            Enqueue(queue, ids, i, i + 1);
        }

        while (queue.TryDequeue(out var candidate, out _))
        {
            var position = candidate.Position;
            var right = next[position];
            if (ids[position] < 0 || right < 0)
            {
                continue;
            }

            if (!_merges.TryGetValue(PairKey(ids[position], ids[right]), out var merge) || merge.NewId != candidate.NewId)
            {
                continue;
            }

            ids[position] = merge.NewId;
            ids[right] = -1;
            next[position] = next[right];
            if (next[right] >= 0)
            {
                previous[next[right]] = position;
            }

            if (previous[position] >= 0)
            {
                Enqueue(queue, ids, previous[position], position);
            }

            if (next[position] >= 0)
            {
                Enqueue(queue, ids, position, next[position]);
            }
        }

        var result = new List<int>(count);
        for (var i = 0; i >= 0; i = next[i])
        {
            result.Add(ids[i]);
        }

        return [.. result];
    }

    private void Enqueue(PriorityQueue<(int Position, int NewId), long> queue, int[] ids, int left, int right)
    {
        if (_merges.TryGetValue(PairKey(ids[left], ids[right]), out var merge))
        {
            queue.Enqueue((left, merge.NewId), ((long)merge.Rank << 32) | (uint)left);
        }
    }

    /// <summary>One merge rule: its rank (lower merges first) and the id of the merged token.</summary>
    public readonly record struct Merge(int Rank, int NewId);
}
