namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>jinja2's <c>namespace(...)</c>: the one object whose attributes <c>{% set ns.x = ... %}</c> may change, so loops can carry state out.</summary>
internal sealed class NamespaceValue : Value
{
    public NamespaceValue(OrderedDictionary<string, Value> attributes)
    {
        Attributes = attributes;
    }

    public OrderedDictionary<string, Value> Attributes { get; }

    public override string TypeName => "Namespace";

    public override string ToDisplayString() =>
        "<Namespace " + string.Join(", ", Attributes.Select(a => a.Key + "=" + a.Value.ToRepr())) + ">";

    public override Value GetAttribute(string name) =>
        Attributes.TryGetValue(name, out var value) ? value : new UndefinedValue($"'Namespace' object has no attribute '{name}'");
}
