using Fathom.Tokenizer.Json;

namespace Fathom.Tokenizer.Loading;

/// <summary>Checks tokenizer.json's <c>decoder</c>: decoding is byte-level, so it must be ByteLevel (alone or in a Sequence).</summary>
internal static class DecoderReader
{
    public static void RequireByteLevel(JsonField? field, string fileName)
    {
        if (field is not { } decoder)
        {
            throw new TokenizerFormatException(fileName, "decoder", "is missing; a byte-level BPE tokenizer needs a ByteLevel decoder");
        }

        var typeField = decoder.Required("type");
        var type = typeField.GetString();
        if (type == "ByteLevel")
        {
            return;
        }

        if (type == "Sequence")
        {
            var inner = decoder.Required("decoders").Items().ToList();
            if (inner.Count == 1)
            {
                RequireByteLevel(inner[0], fileName);
                return;
            }
        }

        throw typeField.Error($"decoder type '{type}' is not supported (only ByteLevel)");
    }
}
