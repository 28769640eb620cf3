using System.Text.Json.Nodes;

namespace Fathom.Tokenizer.Tests;

/// <summary>
/// Builds small tokenizer.json files by hand: the 256 byte-level tokens (id = byte value) plus chosen merges,
/// so expected ids can be worked out on paper.
/// </summary>
internal static class SmallTokenizers
{
    /// <summary>GPT-2's byte-to-character table, written out from its definition.</summary>
    public static string ByteChar(int b)
    {
        var n = 0;
        for (var x = 0; x < 256; x++)
        {
            var printable = x is >= 0x21 and <= 0x7E or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            if (x == b)
            {
                return ((char)(printable ? x : 256 + n)).ToString();
            }

            if (!printable)
            {
                n++;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(b));
    }

    /// <summary>A byte-level token written with the alphabet: "Ġt" for " t".</summary>
    public static string Token(string text) => string.Concat(System.Text.Encoding.UTF8.GetBytes(text).Select(b => ByteChar(b)));

    public static JsonObject Json(
        IReadOnlyList<(string Left, string Right)>? merges = null,
        JsonNode? preTokenizer = null,
        JsonArray? addedTokens = null,
        bool mergesAsArrays = false,
        JsonNode? postProcessor = null)
    {
        var vocab = new JsonObject();
        for (var b = 0; b < 256; b++)
        {
            vocab[ByteChar(b)] = b;
        }

        var mergeArray = new JsonArray();
        var next = 256;
        foreach (var (left, right) in merges ?? [])
        {
            var (l, r) = (Token(left), Token(right));
            if (!vocab.ContainsKey(l + r))
            {
                vocab[l + r] = next++;
            }

            mergeArray.Add(mergesAsArrays ? new JsonArray(l, r) : JsonValue.Create(l + " " + r));
        }

        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = addedTokens ?? [],
            ["normalizer"] = null,
            ["pre_tokenizer"] = preTokenizer ?? ByteLevel(addPrefixSpace: false, useRegex: true),
            ["post_processor"] = postProcessor ?? new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["vocab"] = vocab,
                ["merges"] = mergeArray,
            },
        };
    }

    public static TextTokenizer Create(
        IReadOnlyList<(string Left, string Right)>? merges = null,
        JsonNode? preTokenizer = null,
        JsonArray? addedTokens = null,
        string? config = null,
        bool mergesAsArrays = false,
        JsonNode? postProcessor = null) =>
        TextTokenizer.FromJson(Json(merges, preTokenizer, addedTokens, mergesAsArrays, postProcessor).ToJsonString(), config);

    public static JsonObject ByteLevel(bool addPrefixSpace, bool useRegex) => new()
    {
        ["type"] = "ByteLevel",
        ["add_prefix_space"] = addPrefixSpace,
        ["trim_offsets"] = true,
        ["use_regex"] = useRegex,
    };

    public static JsonObject Split(JsonObject pattern, string behavior, bool invert = false) => new()
    {
        ["type"] = "Split",
        ["pattern"] = pattern,
        ["behavior"] = behavior,
        ["invert"] = invert,
    };

    public static JsonObject Sequence(params JsonNode[] steps) => new()
    {
        ["type"] = "Sequence",
        ["pretokenizers"] = new JsonArray(steps),
    };

    public static JsonObject AddedToken(int id, string content, bool special, bool lstrip = false, bool rstrip = false, bool singleWord = false, bool? normalized = null) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = singleWord,
        ["lstrip"] = lstrip,
        ["rstrip"] = rstrip,
        ["normalized"] = normalized ?? !special,
        ["special"] = special,
    };

    /// <summary>The id of a token in the vocabulary of a tokenizer made here.</summary>
    public static int Id(TextTokenizer tokenizer, string text) => tokenizer.TokenToId(Token(text)) ?? throw new ArgumentException($"'{text}' is not a token");

    public static int[] Ids(TextTokenizer tokenizer, params string[] tokens) => [.. tokens.Select(t => Id(tokenizer, t))];
}
