using System.Text;

namespace Fathom.Tokenizer.Jinja.Runtime;

internal sealed class StringValue : Value
{
    public StringValue(string value)
    {
        Value = value;
    }

    public static StringValue Empty { get; } = new("");

    public string Value { get; }

    public override string TypeName => "str";

    public override bool IsTruthy => Value.Length > 0;

    public override string ToDisplayString() => Value;

    public override string ToRepr() => PythonFormat.StringRepr(Value);

    /// <summary>Python strings index and iterate by code point, not UTF-16 unit.</summary>
    public Rune[] Runes() => [.. Value.EnumerateRunes()];

    public override Value GetItem(Value key)
    {
        if (key is IntegerValue or BoolValue)
        {
            var runes = Runes();
            var index = Operators.ToInteger(key);
            if (index < 0)
            {
                index += runes.Length;
            }

            return index >= 0 && index < runes.Length
                ? new StringValue(runes[index].ToString())
                : new UndefinedValue("string index out of range");
        }

        return base.GetItem(key);
    }

    public override IEnumerable<Value> Iterate() => Runes().Select(r => (Value)new StringValue(r.ToString()));
}
