using System.Collections;
using System.Text.Json;

namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>Turns the .NET values callers pass (messages, tool schemas, extra variables) into template values.</summary>
internal static class ValueConverter
{
    public static Value FromObject(object? value) => value switch
    {
        null => NoneValue.Instance,
        Value v => v,
        string s => new StringValue(s),
        bool b => BoolValue.Of(b),
        int or long or short or byte or sbyte or ushort or uint => new IntegerValue(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)),
        float or double or decimal => new FloatValue(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)),
        ChatMessage message => FromMessage(message),
        ToolCall call => FromToolCall(call),
        JsonElement json => FromJson(json),
        JsonDocument document => FromJson(document.RootElement),
        IReadOnlyDictionary<string, object?> dict => Dict(dict.Select(e => (e.Key, FromObject(e.Value)))),
        IDictionary dict => Dict(dict.Keys.Cast<object>().Select(k => (k as string ?? throw KeyError(k), FromObject(dict[k])))),
        IEnumerable items => new ListValue([.. items.Cast<object?>().Select(FromObject)]),
        _ => throw new ArgumentException($"a value of type {value.GetType().Name} cannot be passed to a chat template"),
    };

    /// <summary>
    /// An OpenAI-style message dict. Optional members are left out when null, because templates test
    /// <c>'tool_calls' in message</c> or <c>message.tool_calls is defined</c>.
    /// </summary>
    public static DictValue FromMessage(ChatMessage message)
    {
        var entries = new OrderedDictionary<string, Value>(StringComparer.Ordinal)
        {
            ["role"] = new StringValue(message.Role),
            ["content"] = message.Content is null ? NoneValue.Instance : new StringValue(message.Content),
        };
        if (message.ReasoningContent is not null)
        {
            entries["reasoning_content"] = new StringValue(message.ReasoningContent);
        }

        if (message.ToolCalls is not null)
        {
            entries["tool_calls"] = new ListValue([.. message.ToolCalls.Select(c => (Value)FromToolCall(c))]);
        }

        if (message.ToolCallId is not null)
        {
            entries["tool_call_id"] = new StringValue(message.ToolCallId);
        }

        if (message.Name is not null)
        {
            entries["name"] = new StringValue(message.Name);
        }

        return new DictValue(entries);
    }

    public static DictValue FromToolCall(ToolCall call)
    {
        var entries = new OrderedDictionary<string, Value>(StringComparer.Ordinal);
        if (call.Id is not null)
        {
            entries["id"] = new StringValue(call.Id);
        }

        entries["type"] = new StringValue(call.Type);
        entries["function"] = new DictValue(new OrderedDictionary<string, Value>(StringComparer.Ordinal)
        {
            ["name"] = new StringValue(call.FunctionName),
            ["arguments"] = new StringValue(call.FunctionArguments),
        });
        return new DictValue(entries);
    }

    public static Value FromJson(JsonElement json) => json.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => NoneValue.Instance,
        JsonValueKind.True => BoolValue.True,
        JsonValueKind.False => BoolValue.False,
        JsonValueKind.String => new StringValue(json.GetString()!),
        JsonValueKind.Number => json.TryGetInt64(out var l) ? new IntegerValue(l) : new FloatValue(json.GetDouble()),
        JsonValueKind.Array => new ListValue([.. json.EnumerateArray().Select(FromJson)]),
        _ => Dict(json.EnumerateObject().Select(p => (p.Name, FromJson(p.Value)))),
    };

    private static DictValue Dict(IEnumerable<(string Key, Value Value)> entries)
    {
        var dict = new OrderedDictionary<string, Value>(StringComparer.Ordinal);
        foreach (var (key, value) in entries)
        {
            dict[key] = value;
        }

        return new DictValue(dict);
    }

    private static ArgumentException KeyError(object key) =>
        new($"chat template dicts need string keys, got {key.GetType().Name}");
}
