namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>A Python list, or a tuple when <see cref="IsTuple"/> (which only changes how it prints).</summary>
internal sealed class ListValue : Value
{
    public ListValue(IReadOnlyList<Value> items, bool isTuple = false)
    {
        Items = items;
        IsTuple = isTuple;
    }

    public IReadOnlyList<Value> Items { get; }

    public bool IsTuple { get; }

    public override string TypeName => IsTuple ? "tuple" : "list";

    public override bool IsTruthy => Items.Count > 0;

    public override string ToDisplayString() => IsTuple
        ? Items.Count == 1 ? $"({Items[0].ToRepr()},)" : "(" + string.Join(", ", Items.Select(i => i.ToRepr())) + ")"
        : "[" + string.Join(", ", Items.Select(i => i.ToRepr())) + "]";

    public override Value GetItem(Value key)
    {
        if (key is IntegerValue or BoolValue)
        {
            var index = Operators.ToInteger(key);
            if (index < 0)
            {
                index += Items.Count;
            }

            return index >= 0 && index < Items.Count ? Items[(int)index] : new UndefinedValue($"{TypeName} index out of range");
        }

        return base.GetItem(key);
    }

    public override IEnumerable<Value> Iterate() => Items;
}
