namespace Fathom.Tokenizer.Jinja.Runtime;

internal sealed class FloatValue : Value
{
    public FloatValue(double value)
    {
        Value = value;
    }

    public double Value { get; }

    public override string TypeName => "float";

    public override bool IsTruthy => Value != 0;

    public override string ToDisplayString() => PythonFormat.FloatRepr(Value);
}
