using Fathom.Tokenizer.AddedTokens;
using Fathom.Tokenizer.Bpe;

namespace Fathom.Tokenizer;

/// <summary>
/// Every id the tokenizer knows (BPE vocabulary and added tokens): its text, the bytes it decodes to,
/// and whether it is special. Added tokens win over model tokens with the same id or text, as in HF.
/// </summary>
internal sealed class Vocabulary
{
    private readonly string?[] _tokens;
    private readonly bool[] _special;
    private readonly IReadOnlyDictionary<string, int> _modelIds;
    private readonly Dictionary<string, int> _addedIds = new(StringComparer.Ordinal);

    // The decoded bytes of all tokens in one array: token i is _bytes[_offsets[i].._offsets[i + 1]].
    private readonly byte[] _bytes;
    private readonly int[] _offsets;

    public Vocabulary(IReadOnlyDictionary<string, int> modelVocab, IReadOnlyList<AddedToken> addedTokens)
    {
        var size = 0;
        foreach (var id in modelVocab.Values)
        {
            size = Math.Max(size, id + 1);
        }

        foreach (var token in addedTokens)
        {
            size = Math.Max(size, token.Id + 1);
        }

        _tokens = new string?[size];
        _special = new bool[size];
        _modelIds = modelVocab;
        foreach (var (token, id) in modelVocab)
        {
            _tokens[id] = token;
        }

        foreach (var token in addedTokens)
        {
            _tokens[token.Id] = token.Content;
            _special[token.Id] = token.Special;
            _addedIds[token.Content] = token.Id;
        }

        _offsets = new int[size + 1];
        var bytes = new List<byte>(size * 8);
        for (var id = 0; id < size; id++)
        {
            if (_tokens[id] is { } text)
            {
                ByteLevelAlphabet.DecodeToken(text, bytes);
            }

            _offsets[id + 1] = bytes.Count;
        }

        _bytes = [.. bytes];
    }

    /// <summary>Max id + 1.</summary>
    public int Size => _tokens.Length;

    public string? IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    public int? TokenToId(string token) =>
        _addedIds.TryGetValue(token, out var id) || _modelIds.TryGetValue(token, out id) ? id : null;

    public bool IsSpecial(int id) => (uint)id < (uint)_special.Length && _special[id];

    /// <summary>
    /// The bytes <paramref name="id"/> decodes to, or empty when the id is unknown or is a special token being skipped
    /// (HF's decode skips unknown ids silently).
    /// </summary>
    public ReadOnlySpan<byte> BytesOf(int id, bool skipSpecialTokens)
    {
        if ((uint)id >= (uint)_tokens.Length || (skipSpecialTokens && _special[id]))
        {
            return default;
        }

        return _bytes.AsSpan(_offsets[id], _offsets[id + 1] - _offsets[id]);
    }
}
