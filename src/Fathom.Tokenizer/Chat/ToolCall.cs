namespace Fathom.Tokenizer;

/// <summary>
/// A tool call made by an assistant message; templates see it as
/// <c>{"id": ..., "type": ..., "function": {"name": ..., "arguments": ...}}</c>.
/// </summary>
/// <param name="Id">The call id, if the caller tracks one.</param>
/// <param name="Type">The call type, "function" for function calls.</param>
/// <param name="FunctionName">The function's name.</param>
/// <param name="FunctionArguments">The arguments as a JSON text (DeepSeek templates print it verbatim).</param>
public sealed record ToolCall(string? Id, string Type, string FunctionName, string FunctionArguments)
{
    public static ToolCall Function(string name, string arguments, string? id = null) => new(id, "function", name, arguments);
}
