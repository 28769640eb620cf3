namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>Something a template can call: a global function, a bound method of a value, or a macro.</summary>
internal sealed class CallableValue : Value
{
    private readonly Func<CallArguments, Value> _invoke;

    public CallableValue(string name, Func<CallArguments, Value> invoke)
    {
        Name = name;
        _invoke = invoke;
    }

    public string Name { get; }

    public override string TypeName => "function";

    public override string ToDisplayString() => $"<function {Name}>";

    public Value Invoke(CallArguments arguments) => _invoke(arguments);
}
