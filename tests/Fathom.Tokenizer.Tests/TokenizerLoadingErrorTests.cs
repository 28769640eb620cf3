using System.Text.Json.Nodes;
using Fathom.TestSupport;

namespace Fathom.Tokenizer.Tests;

public sealed class TokenizerLoadingErrorTests
{
    [Fact]
    public void MissingTokenizerJsonNamesTheFileAndFolder()
    {
        using var folder = new TempDirectory();

        var error = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.Load(folder.Path));

        Assert.Equal("tokenizer.json", error.FileName);
        Assert.Contains("tokenizer.json", error.Message, StringComparison.Ordinal);
        Assert.Contains(folder.Path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidJsonNamesTheFile()
    {
        using var folder = new TempDirectory();
        File.WriteAllText(folder.File("tokenizer.json"), "{ \"model\": ");

        var error = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.Load(folder.Path));

        Assert.StartsWith("tokenizer.json: invalid JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidConfigJsonNamesTheConfigFile()
    {
        using var folder = new TempDirectory();
        File.WriteAllText(folder.File("tokenizer.json"), SmallTokenizers.Json().ToJsonString());
        File.WriteAllText(folder.File("tokenizer_config.json"), "{ not json");

        var error = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.Load(folder.Path));

        Assert.StartsWith("tokenizer_config.json: invalid JSON", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Unigram")]
    [InlineData("WordPiece")]
    [InlineData("WordLevel")]
    public void UnsupportedModelTypeIsNamed(string type)
    {
        var json = SmallTokenizers.Json();
        json["model"]!["type"] = type;

        var error = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.FromJson(json.ToJsonString()));

        Assert.Equal("model.type", error.Field);
        Assert.Contains($"'{type}'", error.Message, StringComparison.Ordinal);
        Assert.StartsWith("tokenizer.json: field 'model.type'", error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, JsonNode?, string, string> BrokenFields => new()
    {
        { "normalizer", new JsonObject { ["type"] = "NFC" }, "normalizer.type", "'NFC'" },
        { "pre_tokenizer", new JsonObject { ["type"] = "Metaspace" }, "pre_tokenizer.type", "'Metaspace'" },
        { "pre_tokenizer", null, "pre_tokenizer", "ByteLevel" },
        { "decoder", new JsonObject { ["type"] = "WordPiece" }, "decoder.type", "'WordPiece'" },
        { "post_processor", new JsonObject { ["type"] = "BertProcessing" }, "post_processor.type", "'BertProcessing'" },
        {
            "pre_tokenizer",
            SmallTokenizers.Sequence(SmallTokenizers.Split(new JsonObject { ["Regex"] = @"\p{Han}+" }, "Isolated"), SmallTokenizers.ByteLevel(false, false)),
            "pre_tokenizer.pretokenizers[0].pattern.Regex",
            "'Han'"
        },
        {
            "pre_tokenizer",
            SmallTokenizers.Sequence(SmallTokenizers.Split(new JsonObject { ["Regex"] = "a" }, "Sideways"), SmallTokenizers.ByteLevel(false, false)),
            "pre_tokenizer.pretokenizers[0].behavior",
            "'Sideways'"
        },
    };

    [Theory]
    [MemberData(nameof(BrokenFields))]
    public void UnsupportedComponentsNameTheirField(string property, JsonNode? value, string field, string mention)
    {
        var json = SmallTokenizers.Json();
        json[property] = value;

        var error = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.FromJson(json.ToJsonString()));

        Assert.Equal(field, error.Field);
        Assert.Contains(mention, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MergeOfUnknownTokenNamesTheMerge()
    {
        var json = SmallTokenizers.Json();
        json["model"]!["merges"] = new JsonArray("Ġ zzz");

        var error = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.FromJson(json.ToJsonString()));

        Assert.Equal("model.merges[0]", error.Field);
        Assert.Contains("'zzz'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ByteFallbackIsRejected()
    {
        var json = SmallTokenizers.Json();
        json["model"]!["byte_fallback"] = true;

        var error = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.FromJson(json.ToJsonString()));

        Assert.Equal("model.byte_fallback", error.Field);
    }

    [Fact]
    public void MissingVocabIsNamed()
    {
        var json = SmallTokenizers.Json();
        json["model"]!.AsObject().Remove("vocab");

        var error = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.FromJson(json.ToJsonString()));

        Assert.Equal("tokenizer.json: field 'model.vocab': is missing", error.Message);
    }

    [Fact]
    public void AddBosWithoutBosTokenIsAConfigError()
    {
        var error = Assert.Throws<TokenizerFormatException>(() =>
            TextTokenizer.FromJson(SmallTokenizers.Json().ToJsonString(), """{"add_bos_token": true}"""));

        Assert.Equal("tokenizer_config.json", error.FileName);
        Assert.Equal("add_bos_token", error.Field);
    }

    [Fact]
    public void BrokenChatTemplateIsAConfigError()
    {
        var error = Assert.Throws<TokenizerFormatException>(() =>
            TextTokenizer.FromJson(SmallTokenizers.Json().ToJsonString(), """{"chat_template": "{% if x %}"}"""));

        Assert.Equal("chat_template", error.Field);
        Assert.IsType<ChatTemplateException>(error.InnerException);
    }

    [Fact]
    public void ChatTemplateFileIsUsedWhenTheConfigHasNone()
    {
        using var folder = new TempDirectory();
        File.WriteAllText(folder.File("tokenizer.json"), SmallTokenizers.Json().ToJsonString());
        File.WriteAllText(folder.File("tokenizer_config.json"), """{"bos_token": null}""");
        File.WriteAllText(folder.File("chat_template.jinja"), "{% for m in messages %}{{ m.content }}{% endfor %}\n");

        var tokenizer = TextTokenizer.Load(folder.Path);

        Assert.Equal("hi", tokenizer.ApplyChatTemplate([ChatMessage.User("hi")]).Prompt);
    }
}
