namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>An error while rendering; the renderer adds the template position and turns it into a <see cref="ChatTemplateException"/>.</summary>
internal sealed class TemplateRuntimeException : Exception
{
    public TemplateRuntimeException()
    {
    }

    public TemplateRuntimeException(string message)
        : base(message)
    {
    }

    public TemplateRuntimeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public TemplateRuntimeException(string message, bool raisedByTemplate)
        : base(message)
    {
        RaisedByTemplate = raisedByTemplate;
    }

    public bool RaisedByTemplate { get; }
}
