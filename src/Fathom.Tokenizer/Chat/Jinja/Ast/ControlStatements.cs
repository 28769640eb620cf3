using Fathom.Tokenizer.Jinja.Runtime;

namespace Fathom.Tokenizer.Jinja.Ast;

/// <summary><c>{% if %}...{% elif %}...{% else %}...{% endif %}</c>. Does not open a scope.</summary>
internal sealed class IfStatement(int offset, IReadOnlyList<(Expression Condition, IReadOnlyList<Statement> Body)> branches, IReadOnlyList<Statement> otherwise)
    : Statement(offset)
{
    protected override Completion Run(RenderContext context)
    {
        foreach (var (condition, body) in branches)
        {
            if (condition.Evaluate(context).IsTruthy)
            {
                return ExecuteAll(body, context);
            }
        }

        return ExecuteAll(otherwise, context);
    }
}

/// <summary>
/// <c>{% for a[, b] in items [if cond] %}...{% else %}...{% endfor %}</c>. Every iteration runs in a fresh scope
/// (so plain <c>set</c> inside does not leak out or into the next iteration) with <c>loop</c> bound.
/// </summary>
internal sealed class ForStatement(
    int offset,
    IReadOnlyList<string> targets,
    Expression iterable,
    Expression? filter,
    IReadOnlyList<Statement> body,
    IReadOnlyList<Statement> otherwise) : Statement(offset)
{
    protected override Completion Run(RenderContext context)
    {
        var source = iterable.Evaluate(context);
        if (source is NoneValue or IntegerValue or FloatValue or BoolValue)
        {
            throw new TemplateRuntimeException($"'{source.TypeName}' object is not iterable");
        }

        var outer = context.Scope;
        var items = source.Iterate().ToList();
        if (filter is not null)
        {
            items = [.. items.Where(item => context.InScope(outer, scope =>
            {
                Bind(scope, item);
                return filter.Evaluate(context).IsTruthy;
            }))];
        }

        if (items.Count == 0)
        {
            return ExecuteAll(otherwise, context);
        }

        for (var i = 0; i < items.Count; i++)
        {
            var completion = context.InScope(outer, scope =>
            {
                Bind(scope, items[i]);
                scope.Set("loop", new LoopValue(items, i));
                return ExecuteAll(body, context);
            });
            if (completion == Completion.Break)
            {
                break;
            }
        }

        return Completion.Normal;
    }

    private void Bind(Scope scope, Value item)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], item);
            return;
        }

        var parts = item is StringValue or ListValue or DictValue ? item.Iterate().ToList() : throw new TemplateRuntimeException($"cannot unpack non-iterable {item.TypeName} object");
        if (parts.Count != targets.Count)
        {
            throw new TemplateRuntimeException(parts.Count > targets.Count
                ? $"too many values to unpack (expected {targets.Count})"
                : $"not enough values to unpack (expected {targets.Count}, got {parts.Count})");
        }

        for (var i = 0; i < targets.Count; i++)
        {
            scope.Set(targets[i], parts[i]);
        }
    }
}

/// <summary><c>{% break %}</c> or <c>{% continue %}</c> (jinja2's loopcontrols extension, which HF enables).</summary>
internal sealed class LoopControlStatement(int offset, Completion completion) : Statement(offset)
{
    protected override Completion Run(RenderContext context) => completion;
}
