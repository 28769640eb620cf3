namespace Fathom.Tokenizer.Jinja;

/// <summary>Walks the token list for the parser, with syntax errors that point at the offending token.</summary>
internal sealed class TokenCursor
{
    private readonly IReadOnlyList<Token> _tokens;
    private readonly SourceText _source;
    private int _index;

    public TokenCursor(IReadOnlyList<Token> tokens, SourceText source)
    {
        _tokens = tokens;
        _source = source;
    }

    public Token Current => _tokens[_index];

    public Token Peek(int ahead = 1) => _tokens[Math.Min(_index + ahead, _tokens.Count - 1)];

    public Token Next()
    {
        var token = _tokens[_index];
        if (_index < _tokens.Count - 1)
        {
            _index++;
        }

        return token;
    }

    public bool SkipName(string name) => Skip(TokenKind.Name, name);

    public bool SkipOperator(string op) => Skip(TokenKind.Operator, op);

    public Token Expect(TokenKind kind, string? value, string description)
    {
        if (Current.Kind != kind || (value is not null && Current.Value != value))
        {
            throw Error($"expected {description}, got {Current}");
        }

        return Next();
    }

    public Token ExpectOperator(string op) => Expect(TokenKind.Operator, op, $"'{op}'");

    public string ExpectName(string description) => Expect(TokenKind.Name, null, description).Value;

    public ChatTemplateException Error(string message, Token? at = null) =>
        _source.Error($"syntax error: {message}", (at ?? Current).Offset);

    private bool Skip(TokenKind kind, string value)
    {
        if (Current.Kind == kind && Current.Value == value)
        {
            Next();
            return true;
        }

        return false;
    }
}
