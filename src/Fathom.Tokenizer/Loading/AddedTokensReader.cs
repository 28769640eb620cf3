using Fathom.Tokenizer.AddedTokens;
using Fathom.Tokenizer.Json;

namespace Fathom.Tokenizer.Loading;

/// <summary>Reads tokenizer.json's <c>added_tokens</c>.</summary>
internal static class AddedTokensReader
{
    public static List<AddedToken> Read(JsonField? field)
    {
        var tokens = new List<AddedToken>();
        if (field is not { } array)
        {
            return tokens;
        }

        foreach (var item in array.Items())
        {
            var special = item.OptionalBoolean("special", false);
            var id = item.Required("id").GetInt32();
            if (id < 0)
            {
                throw item.Required("id").Error("ids must be non-negative");
            }

            tokens.Add(new AddedToken(
                id,
                item.Required("content").GetString(),
                special,
                item.OptionalBoolean("single_word", false),
                item.OptionalBoolean("lstrip", false),
                item.OptionalBoolean("rstrip", false),
                item.OptionalBoolean("normalized", !special)));
        }

        return tokens;
    }
}
