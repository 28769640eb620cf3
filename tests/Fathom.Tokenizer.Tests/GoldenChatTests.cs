namespace Fathom.Tokenizer.Tests;

public sealed class GoldenChatTests
{
    [Theory]
    [MemberData(nameof(Golden.ChatIndices), MemberType = typeof(Golden))]
    public void PromptMatchesJinja2(int index)
    {
        var golden = Golden.ChatCases[index];

        var (prompt, _) = DeepSeekV3.Tokenizer.ApplyChatTemplate(golden.Messages, addGenerationPrompt: true);

        Assert.Equal(golden.Prompt, prompt);
    }

    [Theory]
    [MemberData(nameof(Golden.ChatIndices), MemberType = typeof(Golden))]
    public void IdsMatchHuggingFace(int index)
    {
        var golden = Golden.ChatCases[index];

        var (_, ids) = DeepSeekV3.Tokenizer.ApplyChatTemplate(golden.Messages, addGenerationPrompt: true);

        Assert.Equal(golden.Ids, ids);
    }

    [Fact]
    public void PromptHasExactlyOneBos()
    {
        var (_, ids) = DeepSeekV3.Tokenizer.ApplyChatTemplate([ChatMessage.User("Hi")]);

        Assert.Single(ids, id => id == DeepSeekV3.Tokenizer.BosId);
        Assert.Equal(DeepSeekV3.Tokenizer.BosId, ids[0]);
    }
}
