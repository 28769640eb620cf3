using Fathom.Tokenizer.Jinja.Runtime;

namespace Fathom.Tokenizer.Jinja.Ast;

/// <summary>A node of the parsed template; <see cref="Offset"/> locates it in the source for errors.</summary>
internal abstract class Node
{
    protected Node(int offset)
    {
        Offset = offset;
    }

    public int Offset { get; }
}

/// <summary>An expression: evaluates to a value.</summary>
internal abstract class Expression : Node
{
    protected Expression(int offset)
        : base(offset)
    {
    }

    public abstract Value Evaluate(RenderContext context);
}

/// <summary>How a statement finished: normally, or by <c>{% break %}</c> / <c>{% continue %}</c>.</summary>
internal enum Completion
{
    Normal,
    Break,
    Continue,
}

/// <summary>A statement: writes output or changes variables. Runtime errors are reported at the statement's position.</summary>
internal abstract class Statement : Node
{
    protected Statement(int offset)
        : base(offset)
    {
    }

    public static Completion ExecuteAll(IReadOnlyList<Statement> statements, RenderContext context)
    {
        foreach (var statement in statements)
        {
            var completion = statement.Execute(context);
            if (completion != Completion.Normal)
            {
                return completion;
            }
        }

        return Completion.Normal;
    }

    public Completion Execute(RenderContext context)
    {
        try
        {
            return Run(context);
        }
        catch (TemplateRuntimeException error)
        {
            throw context.Error(error, Offset);
        }
    }

    protected abstract Completion Run(RenderContext context);
}
