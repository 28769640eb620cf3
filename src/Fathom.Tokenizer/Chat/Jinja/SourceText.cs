namespace Fathom.Tokenizer.Jinja;

/// <summary>The template source after Jinja's newline handling, with offset-to-line/column mapping for errors.</summary>
internal sealed class SourceText
{
    public SourceText(string source)
    {
        // Jinja turns every \r\n or \r into \n and, without keep_trailing_newline, drops one final newline.
        var text = source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        if (text.EndsWith('\n'))
        {
            text = text[..^1];
        }

        Text = text;
    }

    public string Text { get; }

    public (int Line, int Column) LineAndColumn(int offset)
    {
        offset = Math.Clamp(offset, 0, Text.Length);
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < offset; i++)
        {
            if (Text[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return (line, offset - lineStart + 1);
    }

    public ChatTemplateException Error(string message, int offset)
    {
        var (line, column) = LineAndColumn(offset);
        return new ChatTemplateException(message, line, column);
    }
}
