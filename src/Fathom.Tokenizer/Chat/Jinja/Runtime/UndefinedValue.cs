namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>
/// jinja2's default Undefined: prints as "", is falsy, iterates as empty and equals only another undefined,
/// but any attribute or item access, arithmetic or call fails with the reason it is undefined.
/// </summary>
internal sealed class UndefinedValue : Value
{
    public UndefinedValue(string hint)
    {
        Hint = hint;
    }

    /// <summary>Why it is undefined, e.g. "'foo' is undefined" or "'dict object' has no attribute 'x'".</summary>
    public string Hint { get; }

    public override string TypeName => "Undefined";

    public override bool IsTruthy => false;

    public override bool IsDefined => false;

    public override string ToDisplayString() => "";

    public override Value GetAttribute(string name) => throw Fail();

    public override Value GetItem(Value key) => throw Fail();

    public override IEnumerable<Value> Iterate() => [];

    public TemplateRuntimeException Fail() => new(Hint);
}
