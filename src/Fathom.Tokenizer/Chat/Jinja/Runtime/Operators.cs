using System.Text;

namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>Python semantics of Jinja's operators: arithmetic, concatenation, comparison and membership.</summary>
internal static class Operators
{
    public static Value Add(Value left, Value right)
    {
        RequireDefined(left, right);
        return (left, right) switch
        {
            (StringValue a, StringValue b) => new StringValue(a.Value + b.Value),
            (ListValue a, ListValue b) => new ListValue([.. a.Items, .. b.Items], a.IsTuple && b.IsTuple),
            _ when IsNumber(left) && IsNumber(right) => Arithmetic(left, right, "+", (a, b) => checked(a + b), (a, b) => a + b),
            _ => throw Unsupported("+", left, right),
        };
    }

    public static Value Subtract(Value left, Value right) => Arithmetic(left, right, "-", (a, b) => checked(a - b), (a, b) => a - b);

    public static Value Multiply(Value left, Value right)
    {
        RequireDefined(left, right);
        return (left, right) switch
        {
            (StringValue s, _) when IsInteger(right) => new StringValue(Repeat(s.Value, ToInteger(right))),
            (_, StringValue s) when IsInteger(left) => new StringValue(Repeat(s.Value, ToInteger(left))),
            (ListValue l, _) when IsInteger(right) => new ListValue([.. Enumerable.Repeat(l.Items, (int)Math.Max(0, ToInteger(right))).SelectMany(x => x)], l.IsTuple),
            _ => Arithmetic(left, right, "*", (a, b) => checked(a * b), (a, b) => a * b),
        };
    }

    /// <summary>True division: always a float, as in Python 3.</summary>
    public static Value Divide(Value left, Value right)
    {
        RequireNumbers(left, right, "/");
        var divisor = ToDouble(right);
        return divisor == 0 ? throw new TemplateRuntimeException("division by zero") : new FloatValue(ToDouble(left) / divisor);
    }

    public static Value FloorDivide(Value left, Value right)
    {
        RequireNumbers(left, right, "//");
        if (IsInteger(left) && IsInteger(right))
        {
            var (a, b) = (ToInteger(left), ToInteger(right));
            return b == 0 ? throw new TemplateRuntimeException("integer division or modulo by zero") : new IntegerValue(FloorDiv(a, b));
        }

        var divisor = ToDouble(right);
        return divisor == 0 ? throw new TemplateRuntimeException("float floor division by zero") : new FloatValue(Math.Floor(ToDouble(left) / divisor));
    }

    /// <summary>Python's modulo takes the sign of the divisor.</summary>
    public static Value Modulo(Value left, Value right)
    {
        RequireNumbers(left, right, "%");
        if (IsInteger(left) && IsInteger(right))
        {
            var (a, b) = (ToInteger(left), ToInteger(right));
            return b == 0 ? throw new TemplateRuntimeException("integer division or modulo by zero") : new IntegerValue(a - (b * FloorDiv(a, b)));
        }

        var (x, y) = (ToDouble(left), ToDouble(right));
        if (y == 0)
        {
            throw new TemplateRuntimeException("float modulo");
        }

        var r = x % y;
        return new FloatValue(r != 0 && (r < 0) != (y < 0) ? r + y : r);
    }

    public static Value Power(Value left, Value right)
    {
        RequireNumbers(left, right, "**");
        if (IsInteger(left) && IsInteger(right) && ToInteger(right) >= 0)
        {
            long result = 1;
            var (b, e) = (ToInteger(left), ToInteger(right));
            for (long i = 0; i < e; i++)
            {
                result = checked(result * b);
            }

            return new IntegerValue(result);
        }

        return new FloatValue(Math.Pow(ToDouble(left), ToDouble(right)));
    }

    public static Value Negate(Value operand)
    {
        RequireDefined(operand, operand);
        return operand switch
        {
            FloatValue f => new FloatValue(-f.Value),
            _ when IsInteger(operand) => new IntegerValue(checked(-ToInteger(operand))),
            _ => throw new TemplateRuntimeException($"bad operand type for unary -: '{operand.TypeName}'"),
        };
    }

    /// <summary><c>~</c>: both sides as text (undefined is "").</summary>
    public static Value Concat(Value left, Value right) => new StringValue(left.ToDisplayString() + right.ToDisplayString());

    /// <summary>Python <c>==</c>: numbers compare by value (True == 1), containers element-wise, undefined equals undefined.</summary>
    public static bool AreEqual(Value left, Value right)
    {
        if (IsNumber(left) && IsNumber(right))
        {
            return IsInteger(left) && IsInteger(right) ? ToInteger(left) == ToInteger(right) : ToDouble(left) == ToDouble(right);
        }

        return (left, right) switch
        {
            (StringValue a, StringValue b) => a.Value == b.Value,
            (NoneValue, NoneValue) or (UndefinedValue, UndefinedValue) => true,
            (ListValue a, ListValue b) => a.Items.Count == b.Items.Count && a.Items.Zip(b.Items).All(p => AreEqual(p.First, p.Second)),
            (DictValue a, DictValue b) => a.Entries.Count == b.Entries.Count
                && a.Entries.All(e => b.Entries.TryGetValue(e.Key, out var other) && AreEqual(e.Value, other)),
            _ => ReferenceEquals(left, right),
        };
    }

    /// <summary>Python ordering for <c>&lt;</c> and friends: numbers, strings (by code point) and sequences.</summary>
    public static int Compare(Value left, Value right, string op)
    {
        if (IsNumber(left) && IsNumber(right))
        {
            return IsInteger(left) && IsInteger(right) ? ToInteger(left).CompareTo(ToInteger(right)) : ToDouble(left).CompareTo(ToDouble(right));
        }

        switch (left, right)
        {
            case (StringValue a, StringValue b):
                return CompareCodePoints(a.Value, b.Value);
            case (ListValue a, ListValue b):
                for (var i = 0; i < Math.Min(a.Items.Count, b.Items.Count); i++)
                {
                    if (!AreEqual(a.Items[i], b.Items[i]))
                    {
                        return Compare(a.Items[i], b.Items[i], op);
                    }
                }

                return a.Items.Count.CompareTo(b.Items.Count);
            default:
                RequireDefined(left, right);
                throw new TemplateRuntimeException($"'{op}' not supported between instances of '{left.TypeName}' and '{right.TypeName}'");
        }
    }

    /// <summary>Python <c>in</c>: substring for strings, key for dicts, element for sequences.</summary>
    public static bool Contains(Value container, Value item) => container switch
    {
        StringValue s when item is StringValue sub => s.Value.Contains(sub.Value, StringComparison.Ordinal),
        StringValue => throw new TemplateRuntimeException($"'in <string>' requires string as left operand, not {item.TypeName}"),
        DictValue d => item is StringValue key && d.Entries.ContainsKey(key.Value),
        NamespaceValue or LoopValue or CallableValue or NoneValue or IntegerValue or FloatValue or BoolValue =>
            throw new TemplateRuntimeException($"argument of type '{container.TypeName}' is not iterable"),
        _ => container.Iterate().Any(x => AreEqual(x, item)),
    };

    public static bool IsNumber(Value value) => value is IntegerValue or FloatValue or BoolValue;

    public static bool IsInteger(Value value) => value is IntegerValue or BoolValue;

    public static long ToInteger(Value value) => value switch
    {
        IntegerValue i => i.Value,
        BoolValue b => b.Value ? 1 : 0,
        _ => throw new TemplateRuntimeException($"'{value.TypeName}' object cannot be interpreted as an integer"),
    };

    public static double ToDouble(Value value) => value switch
    {
        FloatValue f => f.Value,
        _ => ToInteger(value),
    };

    private static int CompareCodePoints(string a, string b)
    {
        var (x, y) = (a.EnumerateRunes(), b.EnumerateRunes());
        while (true)
        {
            var (hasX, hasY) = (x.MoveNext(), y.MoveNext());
            if (!hasX || !hasY)
            {
                return hasX.CompareTo(hasY);
            }

            if (x.Current != y.Current)
            {
                return x.Current.Value.CompareTo(y.Current.Value);
            }
        }
    }

    private static Value Arithmetic(Value left, Value right, string op, Func<long, long, long> integers, Func<double, double, double> floats)
    {
        RequireNumbers(left, right, op);
        try
        {
            return IsInteger(left) && IsInteger(right)
                ? new IntegerValue(integers(ToInteger(left), ToInteger(right)))
                : new FloatValue(floats(ToDouble(left), ToDouble(right)));
        }
        catch (OverflowException)
        {
            throw new TemplateRuntimeException($"integer overflow in '{op}'");
        }
    }

    private static void RequireNumbers(Value left, Value right, string op)
    {
        RequireDefined(left, right);
        if (!IsNumber(left) || !IsNumber(right))
        {
            throw Unsupported(op, left, right);
        }
    }

    /// <summary>jinja2's Undefined fails on arithmetic with the reason it is undefined.</summary>
    private static void RequireDefined(Value left, Value right)
    {
        if (left is UndefinedValue a)
        {
            throw a.Fail();
        }

        if (right is UndefinedValue b)
        {
            throw b.Fail();
        }
    }

    private static TemplateRuntimeException Unsupported(string op, Value left, Value right) =>
        new($"unsupported operand type(s) for {op}: '{left.TypeName}' and '{right.TypeName}'");

    private static long FloorDiv(long a, long b)
    {
        var quotient = a / b;
        return (a % b != 0) && ((a < 0) != (b < 0)) ? quotient - 1 : quotient;
    }

    private static string Repeat(string text, long count) =>
        count <= 0 ? "" : new StringBuilder(text.Length * (int)count).Insert(0, text, (int)count).ToString();
}
