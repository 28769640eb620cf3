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
    private int _cacheCount;

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

            // A full cache starts over rather than freezing, so a long-running server keeps caching the words
            // it currently sees. (ConcurrentDictionary.Count takes every lock, hence the separate counter.)
            if (Interlocked.Increment(ref _cacheCount) > CacheCapacity)
            {
                _cache.Clear();
                Interlocked.Exchange(ref _cacheCount, 0);
            }

            _cacheBySpan.TryAdd(word, ids);
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

            var scratch = t_scratch ??= new MergeScratch();
            var count = InitialSymbols(bytes, scratch.Reserve(bytes.Length));
            return MergeWord(scratch, count);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private int InitialSymbols(ReadOnlySpan<byte> bytes, int[] symbols)
    {
        var count = 0;
        var previousWasUnknown = false;
        foreach (var b in bytes)
        {
            var id = _byteIds[b];
            if (id >= 0)
            {
                symbols[count++] = id;
                previousWasUnknown = false;
            }
            else if (_unknownId is { } unknown && !(_fuseUnknown && previousWasUnknown))
            {
                // Without an unknown token HF silently drops a byte missing from the vocabulary.
                symbols[count++] = unknown;
                previousWasUnknown = true;
            }
        }

        return count;
    }

    /// <summary>
    /// Applies merges with a priority queue over (rank, position) and a linked list of symbols, so long words
    /// stay O(n log n); stale queue entries are recognised by re-checking the pair they were made for.
    /// </summary>
    private int[] MergeWord(MergeScratch scratch, int count)
    {
        var ids = scratch.Ids;
        if (count <= 1)
        {
            return ids.AsSpan(0, count).ToArray();
        }

        var next = scratch.Next;
        var previous = scratch.Previous;
        var queue = scratch.Queue;
        queue.Clear();
        for (var i = 0; i < count; i++)
        {
            next[i] = i + 1 < count ? i + 1 : -1;
            previous[i] = i - 1;
        }

        for (var i = 0; i + 1 < count; i++)
        {
            Enqueue(queue, ids, i, i + 1);
        }

        var remaining = count;
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
            remaining--;
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

        var result = new int[remaining];
        var k = 0;
        for (var i = 0; i >= 0; i = next[i])
        {
            result[k++] = ids[i];
        }

        return result;
    }

    private void Enqueue(PriorityQueue<(int Position, int NewId), long> queue, int[] ids, int left, int right)
    {
        if (_merges.TryGetValue(PairKey(ids[left], ids[right]), out var merge))
        {
            queue.Enqueue((left, merge.NewId), ((long)merge.Rank << 32) | (uint)left);
        }
    }

    [ThreadStatic]
    private static MergeScratch? t_scratch;

    /// <summary>One merge rule: its rank (lower merges first) and the id of the merged token.</summary>
    public readonly record struct Merge(int Rank, int NewId);

    /// <summary>Per-thread buffers for merging, so a cache miss does not allocate beyond its result.</summary>
    private sealed class MergeScratch
    {
        public int[] Ids { get; private set; } = new int[64];

        public int[] Next { get; private set; } = new int[64];

        public int[] Previous { get; private set; } = new int[64];

        public PriorityQueue<(int Position, int NewId), long> Queue { get; } = new();

        public int[] Reserve(int length)
        {
            if (Ids.Length < length)
            {
                var size = Math.Max(length, Ids.Length * 2);
                (Ids, Next, Previous) = (new int[size], new int[size], new int[size]);
            }

            return Ids;
        }
    }
}
