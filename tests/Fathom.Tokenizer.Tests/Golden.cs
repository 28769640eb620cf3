using System.Text.Json;
using Fathom.TestSupport;

namespace Fathom.Tokenizer.Tests;

/// <summary>tests/TestData/tokenizer/golden.json: reference outputs of HF tokenizers and jinja2.</summary>
internal static class Golden
{
    private static readonly Lazy<JsonDocument> Document = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.TestData, "tokenizer", "golden.json"))));

    public static IReadOnlyList<EncodeCase> EncodeCases { get; } = [.. Document.Value.RootElement.GetProperty("encode").EnumerateArray().Select(e => new EncodeCase(
        e.GetProperty("text").GetString()!,
        Ids(e.GetProperty("ids")),
        Ids(e.GetProperty("ids_with_special")),
        e.GetProperty("decoded").GetString()!))];

    public static IReadOnlyList<ChatCase> ChatCases { get; } = [.. Document.Value.RootElement.GetProperty("chat").EnumerateArray().Select(e => new ChatCase(
        [.. e.GetProperty("messages").EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()))],
        e.GetProperty("prompt").GetString()!,
        Ids(e.GetProperty("ids"))))];

    public static TheoryData<int> EncodeIndices => Indices(EncodeCases.Count);

    public static TheoryData<int> ChatIndices => Indices(ChatCases.Count);

    private static TheoryData<int> Indices(int count)
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < count; i++)
        {
            data.Add(i);
        }

        return data;
    }

    private static int[] Ids(JsonElement array) => [.. array.EnumerateArray().Select(x => x.GetInt32())];

    public sealed record EncodeCase(string Text, int[] Ids, int[] IdsWithSpecial, string Decoded);

    public sealed record ChatCase(IReadOnlyList<ChatMessage> Messages, string Prompt, int[] Ids);
}
