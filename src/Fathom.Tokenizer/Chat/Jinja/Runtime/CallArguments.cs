namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>The evaluated arguments of a call, filter or test, with Python-style binding helpers.</summary>
internal sealed class CallArguments
{
    public CallArguments(IReadOnlyList<Value> positional, IReadOnlyList<KeyValuePair<string, Value>> named)
    {
        Positional = positional;
        Named = named;
    }

    public static CallArguments None { get; } = new([], []);

    public IReadOnlyList<Value> Positional { get; }

    public IReadOnlyList<KeyValuePair<string, Value>> Named { get; }

    /// <summary>The argument bound to parameter <paramref name="name"/> at <paramref name="position"/>, or null if not given.</summary>
    public Value? Get(int position, string name)
    {
        foreach (var (key, value) in Named)
        {
            if (key == name)
            {
                return value;
            }
        }

        return position < Positional.Count ? Positional[position] : null;
    }

    /// <summary>A keyword-only argument, or null if not given.</summary>
    public Value? Keyword(string name) => Get(int.MaxValue, name);

    public Value Get(int position, string name, Value fallback) => Get(position, name) ?? fallback;

    public Value Required(int position, string name, string function) =>
        Get(position, name) ?? throw new TemplateRuntimeException($"{function}() missing required argument '{name}'");

    /// <summary>Rejects more positional arguments than the function takes.</summary>
    public CallArguments AtMost(int count, string function) => Positional.Count <= count
        ? this
        : throw new TemplateRuntimeException($"{function}() takes at most {count} positional argument(s) ({Positional.Count} given)");
}
