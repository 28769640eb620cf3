namespace Fathom.Tokenizer.Tests;

/// <summary>Renders a template snippet with one user message and a few variables.</summary>
internal static class Jinja
{
    public static string Render(string template, IReadOnlyDictionary<string, object?>? variables = null, IReadOnlyList<ChatMessage>? messages = null) =>
        ChatTemplate.Parse(template, "<s>", "</s>").Render(messages ?? [ChatMessage.User("Hello big world")], addGenerationPrompt: true, variables);
}
