namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>jinja2's tests, used as <c>x is defined</c>, <c>x is not none</c>, <c>x is divisibleby 3</c>.</summary>
internal static class Tests
{
    private static readonly Dictionary<string, Func<Value, CallArguments, bool>> Registry = new(StringComparer.Ordinal)
    {
        ["defined"] = (v, _) => v.IsDefined,
        ["undefined"] = (v, _) => !v.IsDefined,
        ["none"] = (v, _) => v is NoneValue,
        ["boolean"] = (v, _) => v is BoolValue,
        ["true"] = (v, _) => v is BoolValue { Value: true },
        ["false"] = (v, _) => v is BoolValue { Value: false },
        ["integer"] = (v, _) => v is IntegerValue,
        ["float"] = (v, _) => v is FloatValue,
        ["number"] = (v, _) => Operators.IsNumber(v),
        ["string"] = (v, _) => v is StringValue,
        ["mapping"] = (v, _) => v is DictValue,
        ["iterable"] = (v, _) => v is StringValue or ListValue or DictValue or UndefinedValue,
        ["sequence"] = (v, _) => v is StringValue or ListValue or DictValue,
        ["callable"] = (v, _) => v is CallableValue,
        ["sameas"] = (v, a) => SameAs(v, a.Required(0, "other", "sameas")),
        ["escaped"] = (_, _) => false,
        ["eq"] = (v, a) => Operators.AreEqual(v, a.Required(0, "other", "eq")),
        ["equalto"] = (v, a) => Operators.AreEqual(v, a.Required(0, "other", "equalto")),
        ["=="] = (v, a) => Operators.AreEqual(v, a.Required(0, "other", "==")),
        ["ne"] = (v, a) => !Operators.AreEqual(v, a.Required(0, "other", "ne")),
        ["!="] = (v, a) => !Operators.AreEqual(v, a.Required(0, "other", "!=")),
        ["lt"] = (v, a) => Operators.Compare(v, a.Required(0, "other", "lt"), "<") < 0,
        ["lessthan"] = (v, a) => Operators.Compare(v, a.Required(0, "other", "lessthan"), "<") < 0,
        ["<"] = (v, a) => Operators.Compare(v, a.Required(0, "other", "<"), "<") < 0,
        ["le"] = (v, a) => Operators.Compare(v, a.Required(0, "other", "le"), "<=") <= 0,
        ["<="] = (v, a) => Operators.Compare(v, a.Required(0, "other", "<="), "<=") <= 0,
        ["gt"] = (v, a) => Operators.Compare(v, a.Required(0, "other", "gt"), ">") > 0,
        ["greaterthan"] = (v, a) => Operators.Compare(v, a.Required(0, "other", "greaterthan"), ">") > 0,
        [">"] = (v, a) => Operators.Compare(v, a.Required(0, "other", ">"), ">") > 0,
        ["ge"] = (v, a) => Operators.Compare(v, a.Required(0, "other", "ge"), ">=") >= 0,
        [">="] = (v, a) => Operators.Compare(v, a.Required(0, "other", ">="), ">=") >= 0,
        ["in"] = (v, a) => Operators.Contains(a.Required(0, "seq", "in"), v),
        ["odd"] = (v, _) => Operators.ToInteger(v) % 2 != 0,
        ["even"] = (v, _) => Operators.ToInteger(v) % 2 == 0,
        ["divisibleby"] = (v, a) => Operators.ToInteger(v) % Operators.ToInteger(a.Required(0, "num", "divisibleby")) == 0,
        ["lower"] = (v, _) => v is StringValue s && s.Value.Any(char.IsLetter) && !s.Value.Any(char.IsUpper),
        ["upper"] = (v, _) => v is StringValue s && s.Value.Any(char.IsLetter) && !s.Value.Any(char.IsLower),
        ["filter"] = (v, _) => v is StringValue s && Filters.Exists(s.Value),
        ["test"] = (v, _) => v is StringValue s && Exists(s.Value),
    };

    public static bool Exists(string name) => Registry.ContainsKey(name);

    public static bool Apply(string name, Value subject, CallArguments arguments) =>
        Registry.TryGetValue(name, out var test)
            ? test(subject, arguments)
            : throw new TemplateRuntimeException($"no test named '{name}'");

    /// <summary>Python's <c>is</c>: singletons by identity, small values by value.</summary>
    private static bool SameAs(Value a, Value b) => (a, b) switch
    {
        (NoneValue, NoneValue) => true,
        (BoolValue x, BoolValue y) => x.Value == y.Value,
        (IntegerValue x, IntegerValue y) => x.Value == y.Value,
        _ => ReferenceEquals(a, b),
    };
}
