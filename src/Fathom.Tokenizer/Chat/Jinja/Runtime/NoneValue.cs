namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>Python's None (Jinja's <c>none</c>); prints as "None".</summary>
internal sealed class NoneValue : Value
{
    public static NoneValue Instance { get; } = new();

    private NoneValue()
    {
    }

    public override string TypeName => "NoneType";

    public override bool IsTruthy => false;

    public override string ToDisplayString() => "None";

    public override Value GetAttribute(string name) => new UndefinedValue($"'None' has no attribute '{name}'");
}
