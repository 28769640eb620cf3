namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>
/// A value in a running template, with Python/Jinja semantics: truthiness, <c>str()</c>, <c>repr()</c>,
/// attribute and item access. Subclasses are the few types chat templates use.
/// </summary>
internal abstract class Value
{
    /// <summary>The Python type name, for error messages ("str", "dict", "NoneType").</summary>
    public abstract string TypeName { get; }

    public virtual bool IsTruthy => true;

    /// <summary>False only for <see cref="UndefinedValue"/>.</summary>
    public virtual bool IsDefined => true;

    /// <summary>Python's <c>str(value)</c>, which is what <c>{{ value }}</c> prints.</summary>
    public abstract string ToDisplayString();

    /// <summary>Python's <c>repr(value)</c>, used when a value is printed inside a list or dict.</summary>
    public virtual string ToRepr() => ToDisplayString();

    /// <summary><c>value.name</c>: Jinja tries the attribute first, then the item.</summary>
    public virtual Value GetAttribute(string name) => (Value?)BuiltinMethods.Find(this, name) ?? Missing(name);

    /// <summary><c>value[key]</c>: Jinja tries the item first, then the attribute.</summary>
    public virtual Value GetItem(Value key) =>
        key is StringValue name ? GetAttribute(name.Value) : new UndefinedValue($"'{TypeName} object' has no attribute '{key.ToDisplayString()}'");

    /// <summary>The items a <c>for</c> loop, <c>in</c> test or filter sees.</summary>
    public virtual IEnumerable<Value> Iterate() => throw new TemplateRuntimeException($"'{TypeName}' object is not iterable");

    protected UndefinedValue Missing(string name) => new($"'{TypeName} object' has no attribute '{name}'");
}
