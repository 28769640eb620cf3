namespace Fathom.Tokenizer;

/// <summary>
/// A chat template failed to parse (the message gives line and column) or to render
/// (an undefined value was misused, a type error, or the template called <c>raise_exception</c>).
/// </summary>
public sealed class ChatTemplateException : Exception
{
    public ChatTemplateException()
    {
    }

    public ChatTemplateException(string message)
        : base(message)
    {
    }

    public ChatTemplateException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal ChatTemplateException(string message, int? line, int? column, bool raisedByTemplate = false)
        : base(line is null ? message : $"{message} (line {line}, column {column})")
    {
        Line = line;
        Column = column;
        RaisedByTemplate = raisedByTemplate;
    }

    /// <summary>The 1-based line of the template where the error is, when known.</summary>
    public int? Line { get; }

    /// <summary>The 1-based column of the template where the error is, when known.</summary>
    public int? Column { get; }

    /// <summary>True when the template itself called <c>raise_exception(...)</c>.</summary>
    public bool RaisedByTemplate { get; }
}
