using Fathom.Tokenizer.Json;
using Fathom.Tokenizer.PreTokenization;

namespace Fathom.Tokenizer.Loading;

/// <summary>Reads tokenizer.json's <c>normalizer</c> and <c>pre_tokenizer</c> into pre-tokenization steps.</summary>
internal static class PreTokenizerReader
{
    /// <summary>Only "no normalization" is supported: null or (nested) empty Sequences.</summary>
    public static void RequireNoNormalizer(JsonField? normalizer)
    {
        if (normalizer is not { } field)
        {
            return;
        }

        var type = field.Required("type").GetString();
        if (type != "Sequence")
        {
            throw field.Required("type").Error($"normalizer type '{type}' is not supported (only none or an empty Sequence)");
        }

        foreach (var inner in field.Required("normalizers").Items())
        {
            RequireNoNormalizer(inner);
        }
    }

    public static List<IPreTokenizer> Read(JsonField? preTokenizer)
    {
        var steps = new List<IPreTokenizer>();
        if (preTokenizer is { } field)
        {
            Add(field, steps);
        }

        // The BPE model reads UTF-8 bytes as the byte-level alphabet, which is only right after a final ByteLevel step.
        if (steps.Count == 0 || steps[^1] is not ByteLevelPreTokenizer)
        {
            throw new TokenizerFormatException(
                preTokenizer?.FileName ?? "tokenizer.json",
                "pre_tokenizer",
                "a byte-level BPE tokenizer needs a ByteLevel pre-tokenizer as its last step");
        }

        return steps;
    }

    private static void Add(JsonField field, List<IPreTokenizer> steps)
    {
        var typeField = field.Required("type");
        var type = typeField.GetString();
        switch (type)
        {
            case "Sequence":
                foreach (var inner in field.Required("pretokenizers").Items())
                {
                    Add(inner, steps);
                }

                break;
            case "Split":
                steps.Add(ReadSplit(field));
                break;
            case "Digits":
                // HF: each digit alone, or runs of digits kept together.
                steps.Add(new SplitPreTokenizer(
                    new NumericCharacterPattern(),
                    field.OptionalBoolean("individual_digits", false) ? SplitDelimiterBehavior.Isolated : SplitDelimiterBehavior.Contiguous,
                    invert: false));
                break;
            case "ByteLevel":
                steps.Add(new ByteLevelPreTokenizer(
                    field.OptionalBoolean("add_prefix_space", true),
                    field.OptionalBoolean("use_regex", true)));
                break;
            default:
                throw typeField.Error($"pre-tokenizer type '{type}' is not supported (supported: Sequence, Split, Digits, ByteLevel)");
        }
    }

    private static SplitPreTokenizer ReadSplit(JsonField field)
    {
        var patternField = field.Required("pattern");
        ISplitPattern pattern;
        if (patternField.Optional("Regex") is { } regex)
        {
            try
            {
                pattern = new RegexSplitPattern(regex.GetString());
            }
            catch (FormatException ex)
            {
                throw regex.Error(ex.Message);
            }
            catch (ArgumentException ex)
            {
                throw regex.Error($"the translated regex was rejected by .NET: {ex.Message}");
            }
        }
        else if (patternField.Optional("String") is { } literal)
        {
            pattern = new LiteralSplitPattern(literal.GetString());
        }
        else
        {
            throw patternField.Error("expected {\"Regex\": ...} or {\"String\": ...}");
        }

        var behaviorField = field.Required("behavior");
        var behavior = behaviorField.GetString() switch
        {
            "Removed" => SplitDelimiterBehavior.Removed,
            "Isolated" => SplitDelimiterBehavior.Isolated,
            "MergedWithPrevious" => SplitDelimiterBehavior.MergedWithPrevious,
            "MergedWithNext" => SplitDelimiterBehavior.MergedWithNext,
            "Contiguous" => SplitDelimiterBehavior.Contiguous,
            var other => throw behaviorField.Error($"unknown split behavior '{other}'"),
        };
        return new SplitPreTokenizer(pattern, behavior, field.OptionalBoolean("invert", false));
    }
}
