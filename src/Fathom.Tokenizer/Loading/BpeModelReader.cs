using System.Runtime.InteropServices;
using System.Text.Json;
using Fathom.Tokenizer.Bpe;
using Fathom.Tokenizer.Json;

namespace Fathom.Tokenizer.Loading;

/// <summary>Reads tokenizer.json's <c>model</c> into a <see cref="BpeModel"/>.</summary>
internal static class BpeModelReader
{
    public static BpeModel Read(JsonField model)
    {
        if (model.Optional("type") is { } typeField && typeField.GetString() != "BPE")
        {
            throw typeField.Error($"model type '{typeField.GetString()}' is not supported (only byte-level 'BPE')");
        }

        if (model.Optional("byte_fallback") is { } byteFallback && byteFallback.GetBoolean())
        {
            throw byteFallback.Error("byte_fallback BPE is not supported (only byte-level BPE)");
        }

        if (model.Optional("dropout") is { } dropout && dropout.GetDouble() > 0)
        {
            throw dropout.Error("BPE dropout is not supported");
        }

        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (model.Optional(affix) is { } field && field.GetString().Length > 0)
            {
                throw field.Error("subword prefixes/suffixes are not supported by byte-level BPE");
            }
        }

        var vocab = ReadVocab(model.Required("vocab"));
        var merges = ReadMerges(model.Required("merges"), vocab);
        int? unknownId = null;
        if (model.Optional("unk_token") is { } unk)
        {
            unknownId = vocab.TryGetValue(unk.GetString(), out var id)
                ? id
                : throw unk.Error($"unk_token '{unk.GetString()}' is not in the vocabulary");
        }

        return new BpeModel(
            vocab,
            merges,
            unknownId,
            model.OptionalBoolean("fuse_unk", false),
            model.OptionalBoolean("ignore_merges", false));
    }

    private static Dictionary<string, int> ReadVocab(JsonField field)
    {
        field.RequireKind(JsonValueKind.Object, "an object of token -> id");
        var vocab = new Dictionary<string, int>(field.Element.GetPropertyCount(), StringComparer.Ordinal);
        var reader = new Utf8JsonReader(JsonMarshal.GetRawUtf8Value(field.Element));
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var token = reader.GetString()!;
            if (!reader.Read() || reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var id) || id < 0)
            {
                throw new TokenizerFormatException(field.FileName, $"{field.Path}[\"{token}\"]", "expected a non-negative integer id");
            }

            vocab[token] = id;
        }

        return vocab;
    }

    /// <summary>Merges come as "a b" strings (older files) or ["a", "b"] pairs (newer files); the position is the rank.</summary>
    private static Dictionary<long, BpeModel.Merge> ReadMerges(JsonField field, Dictionary<string, int> vocab)
    {
        field.RequireKind(JsonValueKind.Array, "an array");
        var merges = new Dictionary<long, BpeModel.Merge>(field.Element.GetArrayLength());

        // Reading the raw UTF-8 into a reused buffer and looking tokens up by span keeps loading
        // a 128k-merge file free of per-merge allocations.
        var lookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        var reader = new Utf8JsonReader(JsonMarshal.GetRawUtf8Value(field.Element));
        var buffer = new char[64];
        reader.Read();
        var rank = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            int length, split;
            if (reader.TokenType == JsonTokenType.String)
            {
                length = ReadString(ref reader, ref buffer, 0);
                split = buffer.AsSpan(0, length).IndexOf(' ');
                if (split < 0 || buffer.AsSpan(split + 1, length - split - 1).Contains(' '))
                {
                    throw MergeError(field, rank, $"expected \"left right\", found \"{buffer.AsSpan(0, length)}\"");
                }

                buffer.AsSpan(split + 1, length - split - 1).CopyTo(buffer.AsSpan(split));
                length--;
            }
            else if (reader.TokenType == JsonTokenType.StartArray
                && reader.Read() && reader.TokenType == JsonTokenType.String)
            {
                split = ReadString(ref reader, ref buffer, 0);
                if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                {
                    throw MergeError(field, rank, "expected a [\"left\", \"right\"] pair of strings");
                }

                length = ReadString(ref reader, ref buffer, split);
                if (!reader.Read() || reader.TokenType != JsonTokenType.EndArray)
                {
                    throw MergeError(field, rank, "expected a [\"left\", \"right\"] pair of strings");
                }
            }
            else
            {
                throw MergeError(field, rank, "expected a \"left right\" string or a [\"left\", \"right\"] pair");
            }

            var joined = buffer.AsSpan(0, length);
            if (!lookup.TryGetValue(joined[..split], out var leftId) || !lookup.TryGetValue(joined[split..], out var rightId))
            {
                var missing = lookup.ContainsKey(joined[..split]) ? joined[split..] : joined[..split];
                throw MergeError(field, rank, $"'{missing}' is not in the vocabulary");
            }

            if (!lookup.TryGetValue(joined, out var newId))
            {
                throw MergeError(field, rank, $"the merged token '{joined}' is not in the vocabulary");
            }

            // HF collects the merges into a map, so a repeated pair ends up with its last rank.
            merges[BpeModel.PairKey(leftId, rightId)] = new BpeModel.Merge(rank, newId);
            rank++;
        }

        return merges;
    }

    /// <summary>Unescapes the current string token into <paramref name="buffer"/> at <paramref name="offset"/>; returns the end offset.</summary>
    private static int ReadString(ref Utf8JsonReader reader, ref char[] buffer, int offset)
    {
        var needed = offset + (reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length);
        if (buffer.Length < needed)
        {
            Array.Resize(ref buffer, Math.Max(needed, buffer.Length * 2));
        }

        return offset + reader.CopyString(buffer.AsSpan(offset));
    }

    private static TokenizerFormatException MergeError(JsonField field, int index, string problem) =>
        new(field.FileName, $"{field.Path}[{index}]", problem);
}
