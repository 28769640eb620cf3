using System.Text.Json;
using Fathom.TestSupport;

namespace Fathom.Tokenizer.Tests;

/// <summary>
/// The fathom-demo tokenizer was trained with HF <c>tokenizers</c> (DeepSeek-V3's pipeline, 4096 tokens);
/// its reference prompts' ids and the held-out token count come from HF, so they check a second, independent vocabulary.
/// </summary>
public sealed class FathomDemoTokenizerTests
{
    private static readonly Lazy<TextTokenizer> Tokenizer = new(() => TextTokenizer.Load(Path.Combine(TestPaths.RepositoryRoot, "models", "fathom-demo")));

    private static string DemoData(string name) => Path.Combine(TestPaths.TestData, "fathom-demo", name);

    public static TheoryData<int> Cases()
    {
        using var greedy = JsonDocument.Parse(File.ReadAllText(DemoData("greedy.json")));
        var data = new TheoryData<int>();
        for (var i = 0; i < greedy.RootElement.GetProperty("cases").GetArrayLength(); i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReferencePromptIdsMatch(int index)
    {
        using var greedy = JsonDocument.Parse(File.ReadAllText(DemoData("greedy.json")));
        var reference = greedy.RootElement.GetProperty("cases")[index];
        var expected = reference.GetProperty("input_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();

        if (reference.TryGetProperty("messages", out var messages))
        {
            // Chat cases were rendered with the chat template, whose text already holds the BOS.
            var chat = messages.EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString())).ToList();
            var (prompt, ids) = Tokenizer.Value.ApplyChatTemplate(chat, addGenerationPrompt: true);
            Assert.Equal(reference.GetProperty("prompt").GetString(), prompt);
            Assert.Equal(expected, ids);
        }
        else
        {
            Assert.Equal(expected, Tokenizer.Value.Encode(reference.GetProperty("prompt").GetString()!, addSpecialTokens: true));
        }
    }

    [Fact]
    public void HeldOutTextHasTheReferenceTokenCountAndRoundTrips()
    {
        using var perplexity = JsonDocument.Parse(File.ReadAllText(DemoData("perplexity.json")));
        var text = File.ReadAllText(DemoData("heldout.txt"));

        var ids = Tokenizer.Value.Encode(text, addSpecialTokens: true);

        Assert.Equal(perplexity.RootElement.GetProperty("tokens").GetInt32(), ids.Length);
        Assert.Equal(Tokenizer.Value.BosId, ids[0]);
        Assert.Equal(text, Tokenizer.Value.Decode(ids, skipSpecialTokens: true));
    }
}
