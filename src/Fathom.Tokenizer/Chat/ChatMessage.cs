namespace Fathom.Tokenizer;

/// <summary>
/// One message of a conversation, as chat templates see it (an OpenAI-style message dict).
/// Optional members that are null are absent from the dict, so templates' <c>'tool_calls' in message</c> works.
/// </summary>
/// <param name="Role">"system", "user", "assistant" or "tool".</param>
/// <param name="Content">The text; null for an assistant message that only calls tools.</param>
public sealed record ChatMessage(string Role, string? Content)
{
    /// <summary>Tools an assistant message calls.</summary>
    public IReadOnlyList<ToolCall>? ToolCalls { get; init; }

    /// <summary>For a tool message: the id of the call it answers.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>An optional name of the author (or of the tool, for tool messages).</summary>
    public string? Name { get; init; }

    /// <summary>An assistant's reasoning ("thinking") text, for templates that render it.</summary>
    public string? ReasoningContent { get; init; }

    public static ChatMessage System(string content) => new("system", content);

    public static ChatMessage User(string content) => new("user", content);

    public static ChatMessage Assistant(string? content) => new("assistant", content);

    public static ChatMessage Tool(string content, string? toolCallId = null) => new("tool", content) { ToolCallId = toolCallId };
}
