namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>A Python dict with string keys, in insertion order (messages, tool calls, tool schemas).</summary>
internal sealed class DictValue : Value
{
    public DictValue(OrderedDictionary<string, Value> entries)
    {
        Entries = entries;
    }

    public OrderedDictionary<string, Value> Entries { get; }

    public override string TypeName => "dict";

    public override bool IsTruthy => Entries.Count > 0;

    public override string ToDisplayString() =>
        "{" + string.Join(", ", Entries.Select(e => PythonFormat.StringRepr(e.Key) + ": " + e.Value.ToRepr())) + "}";

    public override Value GetAttribute(string name) =>
        (Value?)BuiltinMethods.Find(this, name) ?? (Entries.TryGetValue(name, out var value) ? value : Missing(name));

    public override Value GetItem(Value key)
    {
        if (key is StringValue name && Entries.TryGetValue(name.Value, out var value))
        {
            return value;
        }

        return key is StringValue attribute
            ? (Value?)BuiltinMethods.Find(this, attribute.Value) ?? Missing(attribute.Value)
            : new UndefinedValue($"'dict object' has no attribute {key.ToRepr()}");
    }

    /// <summary>Iterating a dict gives its keys.</summary>
    public override IEnumerable<Value> Iterate() => Entries.Keys.Select(k => (Value)new StringValue(k));
}
