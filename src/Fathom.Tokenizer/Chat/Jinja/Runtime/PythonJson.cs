using System.Globalization;
using System.Text;

namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>
/// Python's <c>json.dumps</c> as HF's <c>tojson</c> filter calls it: <c>ensure_ascii=False</c>, separators
/// <c>", "</c>/<c>": "</c> (or <c>","</c> when indenting), optional indent and key sorting.
/// </summary>
internal sealed class PythonJson
{
    private readonly string? _indent;
    private readonly string _itemSeparator;
    private readonly string _keySeparator;
    private readonly bool _sortKeys;
    private readonly StringBuilder _output = new();

    public PythonJson(string? indent, string? itemSeparator, string? keySeparator, bool sortKeys)
    {
        _indent = indent;
        _itemSeparator = itemSeparator ?? (indent is null ? ", " : ",");
        _keySeparator = keySeparator ?? ": ";
        _sortKeys = sortKeys;
    }

    public string Serialize(Value value)
    {
        _output.Clear();
        Write(value, 0);
        return _output.ToString();
    }

    private void Write(Value value, int depth)
    {
        switch (value)
        {
            case NoneValue:
                _output.Append("null");
                break;
            case BoolValue b:
                _output.Append(b.Value ? "true" : "false");
                break;
            case IntegerValue i:
                _output.Append(i.Value.ToString(CultureInfo.InvariantCulture));
                break;
            case FloatValue f:
                _output.Append(double.IsNaN(f.Value) ? "NaN"
                    : double.IsPositiveInfinity(f.Value) ? "Infinity"
                    : double.IsNegativeInfinity(f.Value) ? "-Infinity"
                    : PythonFormat.FloatRepr(f.Value));
                break;
            case StringValue s:
                WriteString(s.Value);
                break;
            case ListValue list:
                WriteContainer('[', ']', list.Items, depth, (item, d) => Write(item, d));
                break;
            case DictValue dict:
                var entries = _sortKeys ? dict.Entries.OrderBy(e => e.Key, StringComparer.Ordinal).ToList() : [.. dict.Entries];
                WriteContainer('{', '}', entries, depth, (entry, d) =>
                {
                    WriteString(entry.Key);
                    _output.Append(_keySeparator);
                    Write(entry.Value, d);
                });
                break;
            default:
                throw new TemplateRuntimeException($"Object of type {value.TypeName} is not JSON serializable");
        }
    }

    private void WriteContainer<T>(char open, char close, IReadOnlyList<T> items, int depth, Action<T, int> writeItem)
    {
        _output.Append(open);
        if (items.Count == 0)
        {
            _output.Append(close);
            return;
        }

        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                _output.Append(_itemSeparator);
            }

            NewLine(depth + 1);
            writeItem(items[i], depth + 1);
        }

        NewLine(depth);
        _output.Append(close);
    }

    private void NewLine(int depth)
    {
        if (_indent is not null)
        {
            _output.Append('\n');
            for (var i = 0; i < depth; i++)
            {
                _output.Append(_indent);
            }
        }
    }

    private void WriteString(string s)
    {
        _output.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': _output.Append("\\\""); break;
                case '\\': _output.Append(@"\\"); break;
                case '\n': _output.Append(@"\n"); break;
                case '\r': _output.Append(@"\r"); break;
                case '\t': _output.Append(@"\t"); break;
                case '\b': _output.Append(@"\b"); break;
                case '\f': _output.Append(@"\f"); break;
                default:
                    if (c < 0x20)
                    {
                        _output.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    }
                    else
                    {
                        _output.Append(c);
                    }

                    break;
            }
        }

        _output.Append('"');
    }
}
