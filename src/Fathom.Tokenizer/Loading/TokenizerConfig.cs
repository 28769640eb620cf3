using System.Text.Json;
using Fathom.Tokenizer.Json;

namespace Fathom.Tokenizer.Loading;

/// <summary>The parts of tokenizer_config.json that change encoding and chat rendering.</summary>
internal sealed record TokenizerConfig(bool? AddBosToken, bool? AddEosToken, string? BosToken, string? EosToken, string? ChatTemplate)
{
    public const string FileName = "tokenizer_config.json";

    public static TokenizerConfig Empty { get; } = new(null, null, null, null, null);

    public static TokenizerConfig Parse(ReadOnlyMemory<byte> json)
    {
        using var document = JsonField.ParseDocument(FileName, json);
        var root = JsonField.Root(FileName, document);
        root.RequireKind(JsonValueKind.Object, "an object");
        return new TokenizerConfig(
            root.Optional("add_bos_token")?.GetBoolean(),
            root.Optional("add_eos_token")?.GetBoolean(),
            ReadTokenContent(root.Optional("bos_token")),
            ReadTokenContent(root.Optional("eos_token")),
            ReadChatTemplate(root.Optional("chat_template")));
    }

    /// <summary>A special token is written either as its text or as an AddedToken object with a "content".</summary>
    private static string? ReadTokenContent(JsonField? field) => field switch
    {
        null => null,
        { Kind: JsonValueKind.String } text => text.GetString(),
        { Kind: JsonValueKind.Object } token => token.Required("content").GetString(),
        { } other => throw other.Error("expected a string or an object with \"content\""),
    };

    /// <summary>Either one template, or a list of named templates of which "default" is the chat template.</summary>
    private static string? ReadChatTemplate(JsonField? field)
    {
        if (field is not { } template)
        {
            return null;
        }

        if (template.Kind == JsonValueKind.String)
        {
            return template.GetString();
        }

        foreach (var named in template.Items())
        {
            if (named.Required("name").GetString() == "default")
            {
                return named.Required("template").GetString();
            }
        }

        throw template.Error("a list of named templates needs one named \"default\"");
    }
}
