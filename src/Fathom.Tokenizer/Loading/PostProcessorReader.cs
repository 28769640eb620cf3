using Fathom.Tokenizer.Json;

namespace Fathom.Tokenizer.Loading;

/// <summary>
/// Reads tokenizer.json's <c>post_processor</c>. Only a TemplateProcessing's single-sequence template matters
/// here: the special ids it puts around the text, used when tokenizer_config.json does not say.
/// </summary>
internal static class PostProcessorReader
{
    public static (int[] Prefix, int[] Suffix)? ReadTemplate(JsonField? field)
    {
        if (field is not { } processor)
        {
            return null;
        }

        var typeField = processor.Required("type");
        switch (typeField.GetString())
        {
            case "ByteLevel":
                return null;
            case "Sequence":
                (int[], int[])? found = null;
                foreach (var inner in processor.Required("processors").Items())
                {
                    found = ReadTemplate(inner) ?? found;
                }

                return found;
            case "TemplateProcessing":
                return ReadTemplateProcessing(processor);
            default:
                throw typeField.Error($"post-processor type '{typeField.GetString()}' is not supported (supported: ByteLevel, TemplateProcessing, Sequence)");
        }
    }

    private static (int[] Prefix, int[] Suffix) ReadTemplateProcessing(JsonField processor)
    {
        var specialTokens = processor.Required("special_tokens");
        var prefix = new List<int>();
        var suffix = new List<int>();
        var seenSequence = false;
        foreach (var piece in processor.Required("single").Items())
        {
            if (piece.Optional("Sequence") is not null)
            {
                seenSequence = true;
                continue;
            }

            var name = piece.Required("SpecialToken").Required("id").GetString();
            var entry = specialTokens.Optional(name) ?? throw specialTokens.Error($"no entry for template token '{name}'");
            foreach (var id in entry.Required("ids").Items())
            {
                (seenSequence ? suffix : prefix).Add(id.GetInt32());
            }
        }

        return ([.. prefix], [.. suffix]);
    }
}
