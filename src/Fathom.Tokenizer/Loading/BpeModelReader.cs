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
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var property in field.Element.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetInt32(out var id) || id < 0)
            {
                throw new JsonField(field.FileName, $"{field.Path}[\"{property.Name}\"]", property.Value).Error("expected a non-negative integer id");
            }

            vocab[property.Name] = id;
        }

        return vocab;
    }

    /// <summary>Merges come as "a b" strings (older files) or ["a", "b"] pairs (newer files); the position is the rank.</summary>
    private static Dictionary<long, BpeModel.Merge> ReadMerges(JsonField field, Dictionary<string, int> vocab)
    {
        field.RequireKind(JsonValueKind.Array, "an array");
        var merges = new Dictionary<long, BpeModel.Merge>(field.Element.GetArrayLength());
        var rank = 0;
        foreach (var item in field.Element.EnumerateArray())
        {
            string left, right;
            if (item.ValueKind == JsonValueKind.String)
            {
                var text = item.GetString()!;
                var space = text.IndexOf(' ', StringComparison.Ordinal);
                if (space < 0 || text.IndexOf(' ', space + 1) >= 0)
                {
                    throw MergeError(field, rank, $"expected \"left right\", found \"{text}\"");
                }

                left = text[..space];
                right = text[(space + 1)..];
            }
            else if (item.ValueKind == JsonValueKind.Array && item.GetArrayLength() == 2
                && item[0].ValueKind == JsonValueKind.String && item[1].ValueKind == JsonValueKind.String)
            {
                left = item[0].GetString()!;
                right = item[1].GetString()!;
            }
            else
            {
                throw MergeError(field, rank, "expected a \"left right\" string or a [\"left\", \"right\"] pair");
            }

            if (!vocab.TryGetValue(left, out var leftId) || !vocab.TryGetValue(right, out var rightId))
            {
                throw MergeError(field, rank, $"'{(vocab.ContainsKey(left) ? right : left)}' is not in the vocabulary");
            }

            if (!vocab.TryGetValue(left + right, out var newId))
            {
                throw MergeError(field, rank, $"the merged token '{left + right}' is not in the vocabulary");
            }

            // HF collects the merges into a map, so a repeated pair ends up with its last rank.
            merges[BpeModel.PairKey(leftId, rightId)] = new BpeModel.Merge(rank, newId);
            rank++;
        }

        return merges;
    }

    private static TokenizerFormatException MergeError(JsonField field, int index, string problem) =>
        new(field.FileName, $"{field.Path}[{index}]", problem);
}
