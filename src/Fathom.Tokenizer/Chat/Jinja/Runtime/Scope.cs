namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>
/// A level of variables. <c>{% set %}</c> writes to the innermost level; each loop iteration and macro call
/// gets its own level, which is why templates need <c>namespace()</c> to carry values out of a loop.
/// </summary>
internal sealed class Scope
{
    private readonly Dictionary<string, Value> _variables = new(StringComparer.Ordinal);

    public Scope(Scope? parent)
    {
        Parent = parent;
    }

    public Scope? Parent { get; }

    public Value Lookup(string name)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            if (scope._variables.TryGetValue(name, out var value))
            {
                return value;
            }
        }

        return new UndefinedValue($"'{name}' is undefined");
    }

    public void Set(string name, Value value) => _variables[name] = value;
}
