using Fathom.Tokenizer.Jinja.Runtime;

namespace Fathom.Tokenizer.Jinja.Ast;

/// <summary>What <c>{% set %}</c> assigns to: a name, several names (unpacking), or a namespace attribute.</summary>
internal sealed record AssignmentTarget(IReadOnlyList<string> Names, string? NamespaceName, string? Attribute)
{
    public static AssignmentTarget Name(string name) => new([name], null, null);

    public static AssignmentTarget Unpacking(IReadOnlyList<string> names) => new(names, null, null);

    public static AssignmentTarget NamespaceAttribute(string ns, string attribute) => new([], ns, attribute);

    public void Assign(RenderContext context, Value value)
    {
        if (NamespaceName is not null)
        {
            if (context.Scope.Lookup(NamespaceName) is not NamespaceValue ns)
            {
                throw new TemplateRuntimeException($"cannot assign attribute on non-namespace object '{NamespaceName}'");
            }

            ns.Attributes[Attribute!] = value;
            return;
        }

        if (Names.Count == 1)
        {
            context.Scope.Set(Names[0], value);
            return;
        }

        var parts = value.Iterate().ToList();
        if (parts.Count != Names.Count)
        {
            throw new TemplateRuntimeException($"cannot unpack {parts.Count} values into {Names.Count} names");
        }

        for (var i = 0; i < Names.Count; i++)
        {
            context.Scope.Set(Names[i], parts[i]);
        }
    }
}

/// <summary><c>{% set target = expression %}</c>.</summary>
internal sealed class SetStatement(int offset, AssignmentTarget target, Expression value) : Statement(offset)
{
    protected override Completion Run(RenderContext context)
    {
        target.Assign(context, value.Evaluate(context));
        return Completion.Normal;
    }
}

/// <summary><c>{% set name [| filters] %}...{% endset %}</c>: assigns the rendered body.</summary>
internal sealed class SetBlockStatement(int offset, AssignmentTarget target, IReadOnlyList<FilterCall> filters, IReadOnlyList<Statement> body) : Statement(offset)
{
    protected override Completion Run(RenderContext context)
    {
        Value text = new StringValue(context.Capture(() => ExecuteAll(body, context)));
        target.Assign(context, FilterCall.ApplyAll(filters, text, context));
        return Completion.Normal;
    }
}

/// <summary>
/// <c>{% macro name(a, b=default) %}...{% endmacro %}</c>: defines a callable that renders its body with the
/// arguments bound in a new scope over the defining one, and returns the text.
/// </summary>
internal sealed class MacroStatement(int offset, string name, IReadOnlyList<(string Name, Expression? Default)> parameters, IReadOnlyList<Statement> body)
    : Statement(offset)
{
    protected override Completion Run(RenderContext context)
    {
        var definingScope = context.Scope;
        context.Scope.Set(name, new CallableValue(name, arguments => Invoke(context, definingScope, arguments)));
        return Completion.Normal;
    }

    private StringValue Invoke(RenderContext context, Scope definingScope, CallArguments arguments)
    {
        return context.InScope(definingScope, scope =>
        {
            var named = arguments.Named.ToDictionary(n => n.Key, n => n.Value, StringComparer.Ordinal);
            for (var i = 0; i < parameters.Count; i++)
            {
                var (parameter, fallback) = parameters[i];
                if (i < arguments.Positional.Count)
                {
                    scope.Set(parameter, arguments.Positional[i]);
                }
                else if (named.Remove(parameter, out var value))
                {
                    scope.Set(parameter, value);
                }
                else
                {
                    scope.Set(parameter, fallback?.Evaluate(context) ?? new UndefinedValue($"parameter '{parameter}' was not provided"));
                }
            }

            scope.Set("varargs", new ListValue([.. arguments.Positional.Skip(parameters.Count)]));
            var extra = new OrderedDictionary<string, Value>(StringComparer.Ordinal);
            foreach (var (key, value) in named)
            {
                extra[key] = value;
            }

            scope.Set("kwargs", new DictValue(extra));
            return new StringValue(context.Capture(() => ExecuteAll(body, context)));
        });
    }
}
