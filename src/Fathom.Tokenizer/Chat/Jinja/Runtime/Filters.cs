using System.Globalization;
using System.Text;

namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>jinja2's built-in filters that chat templates use, plus HF's <c>tojson</c> (no HTML escaping, ensure_ascii off).</summary>
internal static class Filters
{
    private static readonly Dictionary<string, Func<Value, CallArguments, Value>> Registry = new(StringComparer.Ordinal)
    {
        ["abs"] = (v, _) => v is FloatValue f ? new FloatValue(Math.Abs(f.Value)) : new IntegerValue(Math.Abs(Operators.ToInteger(v))),
        ["attr"] = (v, a) => v.GetAttribute(BuiltinMethods.Text(a.Required(0, "name", "attr"))),
        ["capitalize"] = (v, _) => new StringValue(Capitalize(v.ToDisplayString())),
        ["count"] = Length,
        ["length"] = Length,
        ["d"] = Default,
        ["default"] = Default,
        ["dictsort"] = DictSort,
        ["e"] = Escape,
        ["escape"] = Escape,
        ["forceescape"] = Escape,
        ["first"] = (v, _) => v.Iterate().FirstOrDefault() ?? new UndefinedValue("No first item, sequence was empty."),
        ["last"] = (v, _) => v.Iterate().LastOrDefault() ?? new UndefinedValue("No last item, sequence was empty."),
        ["float"] = ToFloat,
        ["int"] = ToInt,
        ["indent"] = Indent,
        ["items"] = (v, _) => v is UndefinedValue ? new ListValue([]) : BuiltinMethods.Find(RequireDict(v, "items"), "items")!.Invoke(CallArguments.None),
        ["join"] = Join,
        ["list"] = (v, _) => new ListValue([.. v.Iterate()]),
        ["lower"] = (v, _) => new StringValue(v.ToDisplayString().ToLowerInvariant()),
        ["upper"] = (v, _) => new StringValue(v.ToDisplayString().ToUpperInvariant()),
        ["title"] = (v, a) => BuiltinMethods.Find(new StringValue(v.ToDisplayString()), "title")!.Invoke(a),
        ["map"] = Map,
        ["max"] = (v, a) => Extreme(v, a, largest: true),
        ["min"] = (v, a) => Extreme(v, a, largest: false),
        ["replace"] = (v, a) => BuiltinMethods.Find(new StringValue(v.ToDisplayString()), "replace")!.Invoke(a),
        ["reject"] = (v, a) => Select(v, a, keep: false, byAttribute: false),
        ["rejectattr"] = (v, a) => Select(v, a, keep: false, byAttribute: true),
        ["select"] = (v, a) => Select(v, a, keep: true, byAttribute: false),
        ["selectattr"] = (v, a) => Select(v, a, keep: true, byAttribute: true),
        ["reverse"] = (v, _) => v is StringValue s ? new StringValue(string.Concat(s.Runes().Reverse())) : new ListValue([.. v.Iterate().Reverse()]),
        ["round"] = Round,
        ["safe"] = (v, _) => v,
        ["sort"] = Sort,
        ["string"] = (v, _) => v is StringValue ? v : new StringValue(v.ToDisplayString()),
        ["sum"] = Sum,
        ["tojson"] = ToJson,
        ["trim"] = (v, a) => new StringValue(BuiltinMethods.Strip(v.ToDisplayString(), a, "trim", left: true, right: true)),
        ["unique"] = Unique,
        ["wordcount"] = (v, _) => new IntegerValue(v.ToDisplayString().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length),
    };

    public static bool Exists(string name) => Registry.ContainsKey(name);

    public static Value Apply(string name, Value input, CallArguments arguments) =>
        Registry.TryGetValue(name, out var filter)
            ? filter(input, arguments)
            : throw new TemplateRuntimeException($"no filter named '{name}'");

    private static Value Length(Value v, CallArguments _) => v switch
    {
        StringValue s => new IntegerValue(s.Runes().Length),
        ListValue l => new IntegerValue(l.Items.Count),
        DictValue d => new IntegerValue(d.Entries.Count),
        UndefinedValue => new IntegerValue(0),
        _ => throw new TemplateRuntimeException($"object of type '{v.TypeName}' has no len()"),
    };

    private static Value Default(Value v, CallArguments a)
    {
        var fallback = a.Get(0, "default_value", StringValue.Empty);
        var boolean = a.Get(1, "boolean")?.IsTruthy ?? false;
        return v is UndefinedValue || (boolean && !v.IsTruthy) ? fallback : v;
    }

    private static Value DictSort(Value v, CallArguments a)
    {
        var dict = RequireDict(v, "dictsort");
        var caseSensitive = a.Get(0, "case_sensitive")?.IsTruthy ?? false;
        var byValue = a.Get(1, "by") is StringValue { Value: "value" };
        var reverse = a.Get(2, "reverse")?.IsTruthy ?? false;
        var items = dict.Entries.Select(e => (Key: (Value)new StringValue(e.Key), e.Value)).ToList();
        items.Sort((x, y) => CompareForSort(byValue ? x.Value : x.Key, byValue ? y.Value : y.Key, caseSensitive));
        if (reverse)
        {
            items.Reverse();
        }

        return new ListValue([.. items.Select(i => (Value)new ListValue([i.Key, i.Value], isTuple: true))]);
    }

    private static Value Escape(Value v, CallArguments _) => new StringValue(v.ToDisplayString()
        .Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal)
        .Replace("\"", "&#34;", StringComparison.Ordinal)
        .Replace("'", "&#39;", StringComparison.Ordinal));

    private static Value ToFloat(Value v, CallArguments a)
    {
        var fallback = a.Get(0, "default", new FloatValue(0));
        return v switch
        {
            FloatValue => v,
            IntegerValue or BoolValue => new FloatValue(Operators.ToDouble(v)),
            StringValue s when double.TryParse(s.Value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => new FloatValue(d),
            _ => fallback,
        };
    }

    private static Value ToInt(Value v, CallArguments a)
    {
        var fallback = a.Get(0, "default", new IntegerValue(0));
        return v switch
        {
            IntegerValue => v,
            BoolValue => new IntegerValue(Operators.ToInteger(v)),
            FloatValue f => new IntegerValue((long)Math.Truncate(f.Value)),
            StringValue s when long.TryParse(s.Value.Trim().Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => new IntegerValue(l),
            StringValue s when double.TryParse(s.Value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => new IntegerValue((long)Math.Truncate(d)),
            _ => fallback,
        };
    }

    private static Value Indent(Value v, CallArguments a)
    {
        var width = a.Get(0, "width", new IntegerValue(4));
        var prefix = width is StringValue s ? s.Value : new string(' ', (int)Operators.ToInteger(width));
        var first = a.Get(1, "first")?.IsTruthy ?? false;
        var blank = a.Get(2, "blank")?.IsTruthy ?? false;
        var lines = v.ToDisplayString().Split('\n');
        var builder = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            if (i > 0)
            {
                builder.Append('\n');
            }

            var indent = (i > 0 || first) && (blank || lines[i].Trim().Length > 0);
            builder.Append(indent ? prefix : "").Append(lines[i]);
        }

        return new StringValue(builder.ToString());
    }

    private static Value Join(Value v, CallArguments a)
    {
        var separator = a.Get(0, "d", StringValue.Empty).ToDisplayString();
        var attribute = a.Get(1, "attribute");
        var items = v.Iterate();
        if (attribute is not null)
        {
            items = items.Select(i => Attribute(i, attribute));
        }

        return new StringValue(string.Join(separator, items.Select(i => i.ToDisplayString())));
    }

    private static Value Map(Value v, CallArguments a)
    {
        if (a.Keyword("attribute") is { } attribute)
        {
            var fallback = a.Keyword("default");
            return new ListValue([.. v.Iterate().Select(i =>
            {
                var value = Attribute(i, attribute);
                return value is UndefinedValue && fallback is not null ? fallback : value;
            })]);
        }

        var filter = BuiltinMethods.Text(a.Required(0, "filter", "map"));
        var rest = new CallArguments([.. a.Positional.Skip(1)], a.Named);
        return new ListValue([.. v.Iterate().Select(i => Apply(filter, i, rest))]);
    }

    private static Value Extreme(Value v, CallArguments a, bool largest)
    {
        var caseSensitive = a.Get(0, "case_sensitive")?.IsTruthy ?? false;
        var attribute = a.Get(1, "attribute");
        Value? best = null;
        foreach (var item in v.Iterate())
        {
            var key = attribute is null ? item : Attribute(item, attribute);
            var bestKey = best is null ? null : attribute is null ? best : Attribute(best, attribute);
            if (bestKey is null || (CompareForSort(key, bestKey, caseSensitive) is var c && (largest ? c > 0 : c < 0)))
            {
                best = item;
            }
        }

        return best ?? new UndefinedValue("No aggregated item, sequence was empty.");
    }

    private static Value Select(Value v, CallArguments a, bool keep, bool byAttribute)
    {
        Value? attribute = null;
        var positional = a.Positional;
        if (byAttribute)
        {
            attribute = a.Required(0, "attribute", "selectattr");
            positional = [.. positional.Skip(1)];
        }

        string? test = positional.Count > 0 ? BuiltinMethods.Text(positional[0]) : null;
        var testArguments = new CallArguments([.. positional.Skip(1)], []);
        return new ListValue([.. v.Iterate().Where(item =>
        {
            var subject = attribute is null ? item : Attribute(item, attribute);
            var passed = test is null ? subject.IsTruthy : Tests.Apply(test, subject, testArguments);
            return passed == keep;
        })]);
    }

    private static Value Round(Value v, CallArguments a)
    {
        var precision = (int)Operators.ToInteger(a.Get(0, "precision", new IntegerValue(0)));
        var method = a.Get(1, "method") is StringValue m ? m.Value : "common";
        var value = Operators.ToDouble(v);
        var scale = Math.Pow(10, precision);
        return new FloatValue(method switch
        {
            // jinja2's "common" is Python's round(), which rounds halves to even.
            "common" => precision is >= 0 and <= 15 ? Math.Round(value, precision, MidpointRounding.ToEven) : Math.Round(value * scale, MidpointRounding.ToEven) / scale,
            "ceil" => Math.Ceiling(value * scale) / scale,
            "floor" => Math.Floor(value * scale) / scale,
            _ => throw new TemplateRuntimeException("method must be common, ceil or floor"),
        });
    }

    private static Value Sort(Value v, CallArguments a)
    {
        var reverse = a.Get(0, "reverse")?.IsTruthy ?? false;
        var caseSensitive = a.Get(1, "case_sensitive")?.IsTruthy ?? false;
        var attribute = a.Get(2, "attribute");
        var items = v.Iterate().ToList();
        var keys = items.Select(i => attribute is null ? i : Attribute(i, attribute)).ToList();
        var order = Enumerable.Range(0, items.Count).ToList();

        // List.Sort is not stable; Python's sort is, so ties keep their original order.
        order.Sort((x, y) => CompareForSort(keys[x], keys[y], caseSensitive) is var c && c != 0 ? c : x.CompareTo(y));
        if (reverse)
        {
            order.Reverse();
        }

        return new ListValue([.. order.Select(i => items[i])]);
    }

    private static Value Sum(Value v, CallArguments a)
    {
        var attribute = a.Get(0, "attribute");
        Value total = a.Get(1, "start", new IntegerValue(0));
        foreach (var item in v.Iterate())
        {
            total = Operators.Add(total, attribute is null ? item : Attribute(item, attribute));
        }

        return total;
    }

    private static Value ToJson(Value v, CallArguments a)
    {
        var indent = a.Get(1, "indent") switch
        {
            null or NoneValue => null,
            StringValue s => s.Value,
            var n => new string(' ', (int)Operators.ToInteger(n)),
        };
        string? itemSeparator = null, keySeparator = null;
        if (a.Get(2, "separators") is ListValue { Items.Count: 2 } separators)
        {
            itemSeparator = BuiltinMethods.Text(separators.Items[0]);
            keySeparator = BuiltinMethods.Text(separators.Items[1]);
        }

        var sortKeys = a.Get(3, "sort_keys")?.IsTruthy ?? false;
        return new StringValue(new PythonJson(indent, itemSeparator, keySeparator, sortKeys).Serialize(v));
    }

    private static Value Unique(Value v, CallArguments a)
    {
        var caseSensitive = a.Get(0, "case_sensitive")?.IsTruthy ?? false;
        var attribute = a.Get(1, "attribute");
        var seen = new List<Value>();
        var result = new List<Value>();
        foreach (var item in v.Iterate())
        {
            var key = attribute is null ? item : Attribute(item, attribute);
            if (!caseSensitive && key is StringValue s)
            {
                key = new StringValue(s.Value.ToLowerInvariant());
            }

            if (!seen.Any(k => Operators.AreEqual(k, key)))
            {
                seen.Add(key);
                result.Add(item);
            }
        }

        return new ListValue(result);
    }

    /// <summary>jinja2's attribute lookup for filters: dotted paths ("function.name") and integer indexes.</summary>
    private static Value Attribute(Value item, Value attribute)
    {
        if (attribute is IntegerValue)
        {
            return item.GetItem(attribute);
        }

        var value = item;
        foreach (var part in BuiltinMethods.Text(attribute).Split('.'))
        {
            value = int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
                ? value.GetItem(new IntegerValue(index))
                : value.GetItem(new StringValue(part));
        }

        return value;
    }

    private static int CompareForSort(Value x, Value y, bool caseSensitive)
    {
        if (!caseSensitive && x is StringValue a && y is StringValue b)
        {
            return Operators.Compare(new StringValue(a.Value.ToLowerInvariant()), new StringValue(b.Value.ToLowerInvariant()), "<");
        }

        return Operators.Compare(x, y, "<");
    }

    private static DictValue RequireDict(Value v, string filter) =>
        v as DictValue ?? throw new TemplateRuntimeException($"{filter} filter needs a mapping, got '{v.TypeName}'");

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
}
