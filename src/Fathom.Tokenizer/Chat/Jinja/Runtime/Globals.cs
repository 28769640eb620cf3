using System.Globalization;
using System.Text;

namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>
/// The functions a template can call by name: jinja2's <c>namespace</c>, <c>range</c>, <c>dict</c>, and the two
/// HF adds to its chat-template environment, <c>raise_exception</c> and <c>strftime_now</c>.
/// </summary>
internal static class Globals
{
    public static IReadOnlyDictionary<string, Value> Create(Func<DateTime> clock) => new Dictionary<string, Value>(StringComparer.Ordinal)
    {
        ["namespace"] = new CallableValue("namespace", Namespace),
        ["range"] = new CallableValue("range", Range),
        ["dict"] = new CallableValue("dict", Dict),
        ["raise_exception"] = new CallableValue("raise_exception", RaiseException),
        ["strftime_now"] = new CallableValue("strftime_now", a => new StringValue(Strftime(clock(), BuiltinMethods.Text(a.Required(0, "format", "strftime_now"))))),
    };

    private static Value Namespace(CallArguments arguments)
    {
        var attributes = new OrderedDictionary<string, Value>(StringComparer.Ordinal);
        foreach (var initial in arguments.Positional)
        {
            if (initial is not DictValue dict)
            {
                throw new TemplateRuntimeException("namespace() takes keyword arguments or a dict");
            }

            foreach (var (key, value) in dict.Entries)
            {
                attributes[key] = value;
            }
        }

        foreach (var (key, value) in arguments.Named)
        {
            attributes[key] = value;
        }

        return new NamespaceValue(attributes);
    }

    private static Value Dict(CallArguments arguments)
    {
        var entries = new OrderedDictionary<string, Value>(StringComparer.Ordinal);
        foreach (var (key, value) in arguments.Named)
        {
            entries[key] = value;
        }

        return new DictValue(entries);
    }

    private static Value Range(CallArguments arguments)
    {
        var numbers = arguments.Positional.Select(Operators.ToInteger).ToArray();
        var (start, stop, step) = numbers.Length switch
        {
            1 => (0L, numbers[0], 1L),
            2 => (numbers[0], numbers[1], 1L),
            3 => (numbers[0], numbers[1], numbers[2]),
            _ => throw new TemplateRuntimeException("range() takes 1 to 3 integer arguments"),
        };
        if (step == 0)
        {
            throw new TemplateRuntimeException("range() arg 3 must not be zero");
        }

        var items = new List<Value>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (items.Count >= 100_000)
            {
                throw new TemplateRuntimeException("range too big (the sandbox allows at most 100000 items)");
            }

            items.Add(new IntegerValue(i));
        }

        return new ListValue(items);
    }

    private static Value RaiseException(CallArguments arguments) =>
        throw new TemplateRuntimeException(arguments.Get(0, "message", StringValue.Empty).ToDisplayString(), raisedByTemplate: true);

    /// <summary>The common directives of Python's strftime (C locale).</summary>
    private static string Strftime(DateTime time, string format)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length)
            {
                builder.Append(format[i]);
                continue;
            }

            var directive = format[++i];
            builder.Append(directive switch
            {
                'd' => time.ToString("dd", CultureInfo.InvariantCulture),
                'm' => time.ToString("MM", CultureInfo.InvariantCulture),
                'Y' => time.ToString("yyyy", CultureInfo.InvariantCulture),
                'y' => time.ToString("yy", CultureInfo.InvariantCulture),
                'H' => time.ToString("HH", CultureInfo.InvariantCulture),
                'I' => time.ToString("hh", CultureInfo.InvariantCulture),
                'M' => time.ToString("mm", CultureInfo.InvariantCulture),
                'S' => time.ToString("ss", CultureInfo.InvariantCulture),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'b' => time.ToString("MMM", CultureInfo.InvariantCulture),
                'B' => time.ToString("MMMM", CultureInfo.InvariantCulture),
                'a' => time.ToString("ddd", CultureInfo.InvariantCulture),
                'A' => time.ToString("dddd", CultureInfo.InvariantCulture),
                'j' => time.DayOfYear.ToString("000", CultureInfo.InvariantCulture),
                '%' => "%",
                _ => "%" + directive,
            });
        }

        return builder.ToString();
    }
}
