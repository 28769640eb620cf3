namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>The <c>loop</c> variable inside <c>{% for %}</c>.</summary>
internal sealed class LoopValue : Value
{
    private readonly IReadOnlyList<Value> _items;

    public LoopValue(IReadOnlyList<Value> items, int index0)
    {
        _items = items;
        Index0 = index0;
    }

    public int Index0 { get; }

    public override string TypeName => "LoopContext";

    public override string ToDisplayString() => $"<LoopContext {Index0 + 1}/{_items.Count}>";

    public override Value GetAttribute(string name) => name switch
    {
        "index0" => new IntegerValue(Index0),
        "index" => new IntegerValue(Index0 + 1),
        "revindex0" => new IntegerValue(_items.Count - Index0 - 1),
        "revindex" => new IntegerValue(_items.Count - Index0),
        "first" => BoolValue.Of(Index0 == 0),
        "last" => BoolValue.Of(Index0 == _items.Count - 1),
        "length" => new IntegerValue(_items.Count),
        "depth" => new IntegerValue(1),
        "depth0" => new IntegerValue(0),
        "previtem" => Index0 > 0 ? _items[Index0 - 1] : new UndefinedValue("there is no previous item"),
        "nextitem" => Index0 + 1 < _items.Count ? _items[Index0 + 1] : new UndefinedValue("there is no next item"),
        "cycle" => new CallableValue("loop.cycle", Cycle),
        _ => Missing(name),
    };

    private Value Cycle(CallArguments arguments) => arguments.Positional.Count == 0
        ? throw new TemplateRuntimeException("no items for cycling given")
        : arguments.Positional[Index0 % arguments.Positional.Count];
}
