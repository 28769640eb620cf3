namespace Fathom.Tokenizer.Jinja;

/// <summary>A lexed token; <see cref="Value"/> is the text, the unescaped string, or the operator.</summary>
internal readonly record struct Token(TokenKind Kind, string Value, int Offset)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsName(string name) => Is(TokenKind.Name, name);

    public bool IsOperator(string op) => Is(TokenKind.Operator, op);

    public override string ToString() => Kind switch
    {
        TokenKind.Text => "template text",
        TokenKind.EndOfTemplate => "end of template",
        TokenKind.String => $"string '{Value}'",
        TokenKind.VariableBegin or TokenKind.VariableEnd or TokenKind.BlockBegin or TokenKind.BlockEnd or TokenKind.Operator or TokenKind.Name
            or TokenKind.Integer or TokenKind.Float => $"'{Value}'",
        _ => Value,
    };
}
