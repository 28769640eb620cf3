using System.Globalization;

namespace Fathom.Tokenizer.Jinja.Runtime;

internal sealed class IntegerValue : Value
{
    public IntegerValue(long value)
    {
        Value = value;
    }

    public long Value { get; }

    public override string TypeName => "int";

    public override bool IsTruthy => Value != 0;

    public override string ToDisplayString() => Value.ToString(CultureInfo.InvariantCulture);
}
