using Fathom.Tokenizer.Jinja.Runtime;

namespace Fathom.Tokenizer.Jinja.Ast;

/// <summary>Template text, copied to the output.</summary>
internal sealed class TextStatement(int offset, string text) : Statement(offset)
{
    protected override Completion Run(RenderContext context)
    {
        context.Output.Append(text);
        return Completion.Normal;
    }
}

/// <summary><c>{{ expression }}</c>: prints <c>str(value)</c>; undefined prints nothing.</summary>
internal sealed class OutputStatement(int offset, Expression expression) : Statement(offset)
{
    protected override Completion Run(RenderContext context)
    {
        context.Output.Append(expression.Evaluate(context).ToDisplayString());
        return Completion.Normal;
    }
}

/// <summary><c>{% filter name %}...{% endfilter %}</c>: renders the body and passes it through filters.</summary>
internal sealed class FilterBlockStatement(int offset, IReadOnlyList<FilterCall> filters, IReadOnlyList<Statement> body) : Statement(offset)
{
    protected override Completion Run(RenderContext context)
    {
        Value text = new StringValue(context.Capture(() => ExecuteAll(body, context)));
        context.Output.Append(FilterCall.ApplyAll(filters, text, context).ToDisplayString());
        return Completion.Normal;
    }
}

/// <summary>
/// A tag whose body renders as is: HF's <c>{% generation %}</c> (which only tracks assistant spans for training masks).
/// </summary>
internal sealed class TransparentBlockStatement(int offset, IReadOnlyList<Statement> body) : Statement(offset)
{
    protected override Completion Run(RenderContext context) => ExecuteAll(body, context);
}

/// <summary>A filter applied by a block tag (<c>{% filter %}</c>, <c>{% set x | f %}</c>).</summary>
internal sealed record FilterCall(string Name, IReadOnlyList<Expression> Arguments, IReadOnlyList<(string Name, Expression Value)> Named)
{
    public static Value ApplyAll(IReadOnlyList<FilterCall> filters, Value value, RenderContext context)
    {
        foreach (var filter in filters)
        {
            value = Filters.Apply(filter.Name, value, Ast.Arguments.Evaluate(context, filter.Arguments, filter.Named));
        }

        return value;
    }
}
