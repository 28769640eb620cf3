using Fathom.Tokenizer.Jinja.Runtime;

namespace Fathom.Tokenizer.Jinja.Ast;

/// <summary>A literal: string, number, true/false/none.</summary>
internal sealed class LiteralExpression(int offset, Value value) : Expression(offset)
{
    public Value Value { get; } = value;

    public override Value Evaluate(RenderContext context) => Value;
}

/// <summary>A variable reference; unknown names are undefined, not errors.</summary>
internal sealed class NameExpression(int offset, string name) : Expression(offset)
{
    public string Name { get; } = name;

    public override Value Evaluate(RenderContext context) => context.Scope.Lookup(Name);
}

/// <summary><c>[a, b]</c> or a tuple <c>(a, b)</c>.</summary>
internal sealed class ListExpression(int offset, IReadOnlyList<Expression> items, bool isTuple) : Expression(offset)
{
    public override Value Evaluate(RenderContext context) => new ListValue([.. items.Select(i => i.Evaluate(context))], isTuple);
}

/// <summary><c>{'key': value}</c>.</summary>
internal sealed class DictExpression(int offset, IReadOnlyList<(Expression Key, Expression Value)> entries) : Expression(offset)
{
    public override Value Evaluate(RenderContext context)
    {
        var dict = new OrderedDictionary<string, Value>(StringComparer.Ordinal);
        foreach (var (key, value) in entries)
        {
            dict[key.Evaluate(context) is StringValue s ? s.Value : throw new TemplateRuntimeException("dict keys must be strings")] = value.Evaluate(context);
        }

        return new DictValue(dict);
    }
}

/// <summary><c>target.name</c>.</summary>
internal sealed class AttributeExpression(int offset, Expression target, string name) : Expression(offset)
{
    public Expression Target { get; } = target;

    public string Name { get; } = name;

    public override Value Evaluate(RenderContext context) => Target.Evaluate(context).GetAttribute(Name);
}

/// <summary><c>target[key]</c>.</summary>
internal sealed class ItemExpression(int offset, Expression target, Expression key) : Expression(offset)
{
    public override Value Evaluate(RenderContext context) => target.Evaluate(context).GetItem(key.Evaluate(context));
}

/// <summary><c>target[start:stop:step]</c> on lists and strings, with Python's clamping of out-of-range bounds.</summary>
internal sealed class SliceExpression(int offset, Expression target, Expression? start, Expression? stop, Expression? step) : Expression(offset)
{
    public override Value Evaluate(RenderContext context)
    {
        var value = target.Evaluate(context);
        if (value is UndefinedValue undefined)
        {
            throw undefined.Fail();
        }

        var stepValue = Bound(step, context) ?? 1;
        if (stepValue == 0)
        {
            throw new TemplateRuntimeException("slice step cannot be zero");
        }

        switch (value)
        {
            case ListValue list:
                return new ListValue([.. Indices(list.Items.Count, context, stepValue).Select(i => list.Items[i])], list.IsTuple);
            case StringValue text:
                var runes = text.Runes();
                return new StringValue(string.Concat(Indices(runes.Length, context, stepValue).Select(i => runes[i].ToString())));
            default:
                throw new TemplateRuntimeException($"'{value.TypeName}' object is not subscriptable");
        }
    }

    private IEnumerable<int> Indices(int length, RenderContext context, long stepValue)
    {
        long Clamp(long index, long low, long high) => Math.Clamp(index < 0 ? index + length : index, low, high);

        var (low, high) = stepValue > 0 ? (0L, (long)length) : (-1L, length - 1L);
        var first = Bound(start, context) is { } s ? Clamp(s, low, high) : stepValue > 0 ? 0 : length - 1;
        var last = Bound(stop, context) is { } e ? Clamp(e, low, high) : stepValue > 0 ? length : -1;
        for (var i = first; stepValue > 0 ? i < last : i > last; i += stepValue)
        {
            yield return (int)i;
        }
    }

    private static long? Bound(Expression? expression, RenderContext context) =>
        expression?.Evaluate(context) is { } v and not NoneValue ? Operators.ToInteger(v) : null;
}

/// <summary><c>callee(args, name=value)</c>.</summary>
internal sealed class CallExpression(int offset, Expression callee, IReadOnlyList<Expression> arguments, IReadOnlyList<(string Name, Expression Value)> named)
    : Expression(offset)
{
    public override Value Evaluate(RenderContext context)
    {
        var function = callee.Evaluate(context);
        var evaluated = Arguments.Evaluate(context, arguments, named);
        return function switch
        {
            CallableValue callable => callable.Invoke(evaluated),
            UndefinedValue undefined => throw undefined.Fail(),
            _ => throw new TemplateRuntimeException($"'{function.TypeName}' object is not callable"),
        };
    }
}

/// <summary>Evaluates argument lists for calls, filters and tests.</summary>
internal static class Arguments
{
    public static CallArguments Evaluate(RenderContext context, IReadOnlyList<Expression> positional, IReadOnlyList<(string Name, Expression Value)> named) =>
        positional.Count == 0 && named.Count == 0
            ? CallArguments.None
            : new CallArguments(
                [.. positional.Select(p => p.Evaluate(context))],
                [.. named.Select(n => new KeyValuePair<string, Value>(n.Name, n.Value.Evaluate(context)))]);
}
