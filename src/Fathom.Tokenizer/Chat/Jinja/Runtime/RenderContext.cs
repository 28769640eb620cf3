using System.Text;

namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>The state of one render: where output goes, the current scope, and the source for error positions.</summary>
internal sealed class RenderContext
{
    public RenderContext(SourceText source, Scope scope)
    {
        Source = source;
        Scope = scope;
    }

    public SourceText Source { get; }

    public StringBuilder Output { get; set; } = new();

    public Scope Scope { get; set; }

    /// <summary>Runs <paramref name="action"/> in a new scope nested in <paramref name="parent"/>, restoring the current one afterwards.</summary>
    public T InScope<T>(Scope parent, Func<Scope, T> action)
    {
        var saved = Scope;
        Scope = new Scope(parent);
        try
        {
            return action(Scope);
        }
        finally
        {
            Scope = saved;
        }
    }

    /// <summary>Renders into a separate buffer (macro bodies, <c>{% set x %}...{% endset %}</c>) and returns the text.</summary>
    public string Capture(Action render)
    {
        var saved = Output;
        Output = new StringBuilder();
        try
        {
            render();
            return Output.ToString();
        }
        finally
        {
            Output = saved;
        }
    }

    public ChatTemplateException Error(TemplateRuntimeException error, int offset)
    {
        var (line, column) = Source.LineAndColumn(offset);
        return new ChatTemplateException(error.Message, line, column, error.RaisedByTemplate);
    }
}
