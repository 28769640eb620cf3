using System.Globalization;
using System.Text;

namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>
/// The Python methods templates call on values (<c>content.split('&lt;/think&gt;')</c>, <c>message.get('x')</c>).
/// Only non-mutating ones: HF renders in jinja2's immutable sandbox, which forbids <c>append</c> and friends.
/// </summary>
internal static class BuiltinMethods
{
    public static CallableValue? Find(Value receiver, string name) => receiver switch
    {
        StringValue s => StringMethod(s.Value, name),
        DictValue d => DictMethod(d, name),
        ListValue l => ListMethod(l, name),
        _ => null,
    };

    private static CallableValue? StringMethod(string s, string name)
    {
        Func<CallArguments, Value>? method = name switch
        {
            "strip" => a => new StringValue(Strip(s, a, "strip", left: true, right: true)),
            "lstrip" => a => new StringValue(Strip(s, a, "lstrip", left: true, right: false)),
            "rstrip" => a => new StringValue(Strip(s, a, "rstrip", left: false, right: true)),
            "split" => a => Split(s, a),
            "rsplit" => a => RightSplit(s, a),
            "splitlines" => _ => new ListValue([.. s.Split('\n').Select(l => (Value)new StringValue(l.TrimEnd('\r'))).SkipLast(s.EndsWith('\n') ? 1 : 0)]),
            "startswith" => a => BoolValue.Of(Affixes(a.Required(0, "prefix", name)).Any(p => s.StartsWith(p, StringComparison.Ordinal))),
            "endswith" => a => BoolValue.Of(Affixes(a.Required(0, "suffix", name)).Any(p => s.EndsWith(p, StringComparison.Ordinal))),
            "replace" => a => new StringValue(Replace(s, Text(a.Required(0, "old", name)), Text(a.Required(1, "new", name)), a.Get(2, "count"))),
            "upper" => _ => new StringValue(s.ToUpperInvariant()),
            "lower" => _ => new StringValue(s.ToLowerInvariant()),
            "title" => _ => new StringValue(TextCase.Title(s)),
            "capitalize" => _ => new StringValue(TextCase.Capitalize(s)),
            "find" => a => new IntegerValue(CodePointIndex(s, s.IndexOf(Text(a.Required(0, "sub", name)), StringComparison.Ordinal))),
            "rfind" => a => new IntegerValue(CodePointIndex(s, s.LastIndexOf(Text(a.Required(0, "sub", name)), StringComparison.Ordinal))),
            "count" => a => new IntegerValue(Count(s, Text(a.Required(0, "sub", name)))),
            "join" => a => new StringValue(string.Join(s, a.Required(0, "iterable", name).Iterate().Select(Text))),
            "isdigit" => _ => BoolValue.Of(s.Length > 0 && s.All(char.IsDigit)),
            "isalpha" => _ => BoolValue.Of(s.Length > 0 && s.All(char.IsLetter)),
            "isalnum" => _ => BoolValue.Of(s.Length > 0 && s.All(char.IsLetterOrDigit)),
            "isspace" => _ => BoolValue.Of(s.Length > 0 && s.All(char.IsWhiteSpace)),
            "islower" => _ => BoolValue.Of(s.Any(char.IsLetter) && !s.Any(char.IsUpper)),
            "isupper" => _ => BoolValue.Of(s.Any(char.IsLetter) && !s.Any(char.IsLower)),
            _ => null,
        };
        return method is null ? null : new CallableValue("str." + name, method);
    }

    private static CallableValue? DictMethod(DictValue d, string name)
    {
        Func<CallArguments, Value>? method = name switch
        {
            "get" => a => a.Required(0, "key", "get") is StringValue key && d.Entries.TryGetValue(key.Value, out var value)
                ? value
                : a.Get(1, "default", NoneValue.Instance),
            "items" => _ => new ListValue([.. d.Entries.Select(e => (Value)new ListValue([new StringValue(e.Key), e.Value], isTuple: true))]),
            "keys" => _ => new ListValue([.. d.Entries.Keys.Select(k => (Value)new StringValue(k))]),
            "values" => _ => new ListValue([.. d.Entries.Values]),
            _ => null,
        };
        return method is null ? null : new CallableValue("dict." + name, method);
    }

    private static CallableValue? ListMethod(ListValue l, string name)
    {
        Func<CallArguments, Value>? method = name switch
        {
            "index" => a =>
            {
                var item = a.Required(0, "value", "index");
                for (var i = 0; i < l.Items.Count; i++)
                {
                    if (Operators.AreEqual(l.Items[i], item))
                    {
                        return new IntegerValue(i);
                    }
                }

                throw new TemplateRuntimeException($"{item.ToRepr()} is not in list");
            },
            "count" => a => new IntegerValue(l.Items.Count(x => Operators.AreEqual(x, a.Required(0, "value", "count")))),
            _ => null,
        };
        return method is null ? null : new CallableValue("list." + name, method);
    }

    public static string Text(Value value) => value is StringValue s
        ? s.Value
        : throw new TemplateRuntimeException($"expected a string, got '{value.TypeName}'");

    /// <summary>Python's str.strip: whitespace by default, else any of the given characters.</summary>
    public static string Strip(string s, CallArguments a, string function, bool left, bool right)
    {
        var chars = a.AtMost(1, function).Get(0, "chars");
        if (chars is null or NoneValue)
        {
            return left && right ? s.Trim() : left ? s.TrimStart() : s.TrimEnd();
        }

        var set = Text(chars).ToCharArray();
        return left && right ? s.Trim(set) : left ? s.TrimStart(set) : s.TrimEnd(set);
    }

    /// <summary>Python's str.split: on runs of whitespace (dropping empty ends) without a separator, else on the exact separator.</summary>
    private static ListValue Split(string s, CallArguments a)
    {
        var separator = a.Get(0, "sep");
        var maxSplit = a.Get(1, "maxsplit") is { } m ? Operators.ToInteger(m) : -1;
        var parts = new List<Value>();
        if (separator is null or NoneValue)
        {
            var rest = s.TrimStart();
            while (rest.Length > 0)
            {
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(new StringValue(rest));
                    break;
                }

                var end = 0;
                while (end < rest.Length && !char.IsWhiteSpace(rest[end]))
                {
                    end++;
                }

                parts.Add(new StringValue(rest[..end]));
                rest = rest[end..].TrimStart();
            }

            return new ListValue(parts);
        }

        var sep = Text(separator);
        if (sep.Length == 0)
        {
            throw new TemplateRuntimeException("empty separator");
        }

        var pieces = maxSplit < 0 ? s.Split(sep) : s.Split(sep, (int)maxSplit + 1);
        return new ListValue([.. pieces.Select(p => (Value)new StringValue(p))]);
    }

    private static ListValue RightSplit(string s, CallArguments a)
    {
        var maxSplit = a.Get(1, "maxsplit") is { } m ? Operators.ToInteger(m) : -1;
        if (maxSplit < 0 || a.Get(0, "sep") is null or NoneValue)
        {
            return Split(s, a);
        }

        var sep = Text(a.Get(0, "sep")!);
        var parts = new List<Value>();
        var end = s.Length;
        while (parts.Count < maxSplit)
        {
            var index = s.LastIndexOf(sep, end - 1 < 0 ? 0 : end - 1, StringComparison.Ordinal);
            if (index < 0 || end == 0 || index + sep.Length > end)
            {
                break;
            }

            parts.Insert(0, new StringValue(s[(index + sep.Length)..end]));
            end = index;
        }

        parts.Insert(0, new StringValue(s[..end]));
        return new ListValue(parts);
    }

    private static IEnumerable<string> Affixes(Value value) => value is ListValue tuple ? tuple.Items.Select(Text) : [Text(value)];

    private static string Replace(string s, string old, string replacement, Value? count)
    {
        var limit = count is null ? -1 : Operators.ToInteger(count);
        if (limit < 0)
        {
            return old.Length == 0 ? InsertBetweenAll(s, replacement) : s.Replace(old, replacement, StringComparison.Ordinal);
        }

        var builder = new StringBuilder();
        var position = 0;
        for (var done = 0; done < limit; done++)
        {
            var index = s.IndexOf(old, position, StringComparison.Ordinal);
            if (index < 0)
            {
                break;
            }

            builder.Append(s, position, index - position).Append(replacement);
            position = index + old.Length;
        }

        return builder.Append(s, position, s.Length - position).ToString();
    }

    private static string InsertBetweenAll(string s, string insert) =>
        insert + string.Concat(s.EnumerateRunes().Select(r => r.ToString() + insert));

    private static int Count(string s, string sub)
    {
        if (sub.Length == 0)
        {
            return s.EnumerateRunes().Count() + 1;
        }

        var count = 0;
        for (var i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static int CodePointIndex(string s, int utf16Index) =>
        utf16Index < 0 ? -1 : s.AsSpan(0, utf16Index).ToString().EnumerateRunes().Count();

    /// <summary>Python's casing helpers.</summary>
    private static class TextCase
    {
        public static string Title(string s)
        {
            var builder = new StringBuilder(s.Length);
            var previousCased = false;
            foreach (var rune in s.EnumerateRunes())
            {
                builder.Append((previousCased ? Rune.ToLowerInvariant(rune) : Rune.ToUpperInvariant(rune)).ToString());
                var category = Rune.GetUnicodeCategory(rune);
                previousCased = category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter;
            }

            return builder.ToString();
        }

        public static string Capitalize(string s) =>
            s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
    }
}
