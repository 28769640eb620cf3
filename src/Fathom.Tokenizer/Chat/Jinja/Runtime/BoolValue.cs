namespace Fathom.Tokenizer.Jinja.Runtime;

internal sealed class BoolValue : Value
{
    private BoolValue(bool value)
    {
        Value = value;
    }

    public static BoolValue True { get; } = new(true);

    public static BoolValue False { get; } = new(false);

    public bool Value { get; }

    public override string TypeName => "bool";

    public override bool IsTruthy => Value;

    public static BoolValue Of(bool value) => value ? True : False;

    public override string ToDisplayString() => Value ? "True" : "False";
}
