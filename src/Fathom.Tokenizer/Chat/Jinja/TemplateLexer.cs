using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Fathom.Tokenizer.Jinja;

/// <summary>
/// Splits a template into text and tag tokens, applying Jinja's whitespace control as Hugging Face configures it
/// (<c>trim_blocks=True</c>, <c>lstrip_blocks=True</c>): the rules follow jinja2's lexer, including its
/// "line starting" tracking for lstrip and the <c>-</c>/<c>+</c> modifiers on tags.
/// </summary>
internal sealed partial class TemplateLexer
{
    private static readonly string[] Operators =
    [
        "//", "**", "==", "!=", ">=", "<=",
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";",
    ];

    private readonly SourceText _source;
    private readonly string _text;
    private readonly List<Token> _tokens = [];
    private int _position;
    private bool _lineStarting = true;

    private TemplateLexer(SourceText source)
    {
        _source = source;
        _text = source.Text;
    }

    private enum TagKind
    {
        Variable,
        Block,
        Comment,
    }

    public static List<Token> Tokenize(SourceText source)
    {
        var lexer = new TemplateLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        while (_position < _text.Length)
        {
            var (tagStart, kind) = FindTagStart(_position);
            if (tagStart < 0)
            {
                AddText(_text[_position..], _position);
                break;
            }

            var text = _text[_position..tagStart];
            var signOffset = tagStart + 2;
            var sign = signOffset < _text.Length && _text[signOffset] is '-' or '+' ? _text[signOffset] : '\0';

            if (kind == TagKind.Block && RawBegin().Match(_text, tagStart) is { Success: true } raw)
            {
                AddText(StripBeforeTag(text, sign, isVariable: false), _position);
                _lineStarting = raw.Value.EndsWith('\n');
                _position = tagStart + raw.Length;
                LexRawBody();
                continue;
            }

            AddText(StripBeforeTag(text, sign, kind == TagKind.Variable), _position);
            _lineStarting = false;
            _position = signOffset + (sign == '\0' ? 0 : 1);
            switch (kind)
            {
                case TagKind.Comment:
                    SkipComment(tagStart);
                    break;
                case TagKind.Variable:
                    _tokens.Add(new Token(TokenKind.VariableBegin, "{{", tagStart));
                    LexTagContents(TagKind.Variable, tagStart);
                    break;
                default:
                    _tokens.Add(new Token(TokenKind.BlockBegin, "{%", tagStart));
                    LexTagContents(TagKind.Block, tagStart);
                    break;
            }
        }

        _tokens.Add(new Token(TokenKind.EndOfTemplate, "", _text.Length));
    }

    private (int Offset, TagKind Kind) FindTagStart(int from)
    {
        for (var i = _text.IndexOf('{', from); i >= 0 && i + 1 < _text.Length; i = _text.IndexOf('{', i + 1))
        {
            switch (_text[i + 1])
            {
                case '{': return (i, TagKind.Variable);
                case '%': return (i, TagKind.Block);
                case '#': return (i, TagKind.Comment);
            }
        }

        return (-1, TagKind.Variable);
    }

    /// <summary>
    /// '-' strips all whitespace before the tag; otherwise, for block and comment tags, lstrip_blocks removes
    /// the spaces and tabs between the start of the line and the tag ('+' disables it).
    /// </summary>
    private string StripBeforeTag(string text, char sign, bool isVariable)
    {
        if (sign == '-')
        {
            return text.TrimEnd();
        }

        if (sign == '+' || isVariable)
        {
            return text;
        }

        var lineStart = text.LastIndexOf('\n') + 1;
        if ((lineStart > 0 || _lineStarting) && lineStart < text.Length && text.AsSpan(lineStart).IsWhiteSpace())
        {
            return text[..lineStart];
        }

        return text;
    }

    private void SkipComment(int tagStart)
    {
        var end = _text.IndexOf("#}", _position, StringComparison.Ordinal);
        if (end < 0)
        {
            throw _source.Error("missing end of comment tag", tagStart);
        }

        var sign = end > _position && _text[end - 1] is '-' or '+' ? _text[end - 1] : '\0';
        _position = end + 2;
        SkipAfterTagEnd(sign, trimNewline: true);
    }

    private void LexTagContents(TagKind kind, int tagStart)
    {
        var brackets = new Stack<char>();
        while (true)
        {
            if (_position >= _text.Length)
            {
                throw _source.Error(kind == TagKind.Block ? "unexpected end of template: block tag is missing '%}'" : "unexpected end of template: expression is missing '}}'", tagStart);
            }

            if (brackets.Count == 0 && TryLexTagEnd(kind))
            {
                return;
            }

            var c = _text[_position];
            if (char.IsWhiteSpace(c))
            {
                _position++;
                continue;
            }

            if (Match(FloatLiteral(), TokenKind.Float) || Match(IntegerLiteral(), TokenKind.Integer) || Match(NameToken(), TokenKind.Name))
            {
                continue;
            }

            if (c is '\'' or '"')
            {
                LexString();
                continue;
            }

            var op = Operators.FirstOrDefault(o => string.CompareOrdinal(_text, _position, o, 0, o.Length) == 0)
                ?? throw _source.Error($"unexpected character '{c}'", _position);
            TrackBrackets(op, brackets);
            _tokens.Add(new Token(TokenKind.Operator, op, _position));
            _position += op.Length;
        }
    }

    private void TrackBrackets(string op, Stack<char> brackets)
    {
        switch (op)
        {
            case "(": brackets.Push(')'); break;
            case "[": brackets.Push(']'); break;
            case "{": brackets.Push('}'); break;
            case ")" or "]" or "}":
                if (brackets.Count == 0)
                {
                    throw _source.Error($"unexpected '{op}'", _position);
                }

                var expected = brackets.Pop();
                if (expected != op[0])
                {
                    throw _source.Error($"unexpected '{op}', expected '{expected}'", _position);
                }

                break;
        }
    }

    private bool TryLexTagEnd(TagKind kind)
    {
        var end = kind == TagKind.Block ? "%}" : "}}";
        var rest = _text.AsSpan(_position);
        char sign;
        if (rest.StartsWith(end))
        {
            sign = '\0';
        }
        else if (rest.Length >= 3 && (rest[0] == '-' || (rest[0] == '+' && kind == TagKind.Block)) && rest[1..].StartsWith(end))
        {
            sign = rest[0];
        }
        else
        {
            return false;
        }

        _tokens.Add(new Token(kind == TagKind.Block ? TokenKind.BlockEnd : TokenKind.VariableEnd, end, _position));
        _position += sign == '\0' ? 2 : 3;
        SkipAfterTagEnd(sign, trimNewline: kind == TagKind.Block);
        return true;
    }

    /// <summary>'-' strips all whitespace after the tag; otherwise trim_blocks drops one newline after block and comment tags.</summary>
    private void SkipAfterTagEnd(char sign, bool trimNewline)
    {
        if (sign == '-')
        {
            while (_position < _text.Length && char.IsWhiteSpace(_text[_position]))
            {
                _position++;
            }
        }
        else if (sign != '+' && trimNewline && _position < _text.Length && _text[_position] == '\n')
        {
            _position++;
        }

        // Like jinja2: the next text is "line starting" when what the tag's end consumed ended with a newline.
        _lineStarting = _text[_position - 1] == '\n';
    }

    private void LexRawBody()
    {
        var end = RawEnd().Match(_text, _position);
        if (!end.Success)
        {
            throw _source.Error("missing end of raw directive", _position);
        }

        var sign = end.Groups["sign"].Value is { Length: 1 } s ? s[0] : '\0';
        AddText(StripBeforeTag(_text[_position..end.Index], sign, isVariable: false), _position);
        _position = end.Index + end.Length;
        _lineStarting = end.Value.EndsWith('\n');
    }

    private bool Match(Regex regex, TokenKind kind)
    {
        var match = regex.Match(_text, _position);
        if (!match.Success)
        {
            return false;
        }

        var value = kind == TokenKind.Name ? match.Value : match.Value.Replace("_", "", StringComparison.Ordinal);
        _tokens.Add(new Token(kind, value, _position));
        _position += match.Length;
        return true;
    }

    private void LexString()
    {
        var quote = _text[_position];
        var start = _position;
        var builder = new StringBuilder();
        var i = _position + 1;
        while (true)
        {
            if (i >= _text.Length)
            {
                throw _source.Error("unterminated string literal", start);
            }

            var c = _text[i];
            if (c == quote)
            {
                break;
            }

            if (c == '\\' && i + 1 < _text.Length)
            {
                i = Unescape(i + 1, builder);
                continue;
            }

            builder.Append(c);
            i++;
        }

        _tokens.Add(new Token(TokenKind.String, builder.ToString(), start));
        _position = i + 1;
    }

    /// <summary>Python's unicode-escape rules, as jinja2 applies them to string literals; unknown escapes stay as written.</summary>
    private int Unescape(int i, StringBuilder builder)
    {
        var c = _text[i];
        switch (c)
        {
            case '\n': return i + 1;
            case '\\' or '\'' or '"': builder.Append(c); return i + 1;
            case 'n': builder.Append('\n'); return i + 1;
            case 't': builder.Append('\t'); return i + 1;
            case 'r': builder.Append('\r'); return i + 1;
            case 'a': builder.Append('\a'); return i + 1;
            case 'b': builder.Append('\b'); return i + 1;
            case 'f': builder.Append('\f'); return i + 1;
            case 'v': builder.Append('\v'); return i + 1;
            case 'x': return AppendHex(i, 2, builder);
            case 'u': return AppendHex(i, 4, builder);
            case 'U': return AppendHex(i, 8, builder);
            case >= '0' and <= '7':
                {
                    var end = i;
                    while (end < _text.Length && end - i < 3 && _text[end] is >= '0' and <= '7')
                    {
                        end++;
                    }

                    builder.Append((char)Convert.ToInt32(_text[i..end], 8));
                    return end;
                }

            default:
                builder.Append('\\').Append(c);
                return i + 1;
        }
    }

    private int AppendHex(int i, int digits, StringBuilder builder)
    {
        var hex = i + 1 + digits <= _text.Length ? _text.Substring(i + 1, digits) : "";
        if (!int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value) || value > 0x10FFFF || hex.Length != digits)
        {
            throw _source.Error($"truncated \\{_text[i]} escape in string literal", i - 1);
        }

        builder.Append(char.ConvertFromUtf32(value));
        return i + 1 + digits;
    }

    private void AddText(string text, int offset)
    {
        if (text.Length > 0)
        {
            _tokens.Add(new Token(TokenKind.Text, text, offset));
        }
    }

    [GeneratedRegex(@"\G\{%[-+]?\s*raw\s*(?:-%\}\s*|%\})")]
    private static partial Regex RawBegin();

    [GeneratedRegex(@"\{%(?<sign>[-+]?)\s*endraw\s*(?:\+%\}|-%\}\s*|%\}\n?)")]
    private static partial Regex RawEnd();

    [GeneratedRegex(@"\G(?<!\.)(?:\d+_)*\d+(?:(?:\.(?:\d+_)*\d+)?e[+\-]?(?:\d+_)*\d+|\.(?:\d+_)*\d+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex FloatLiteral();

    [GeneratedRegex(@"\G(?:0b(?:_?[01])+|0o(?:_?[0-7])+|0x(?:_?[0-9a-f])+|[1-9](?:_?\d)*|0(?:_?0)*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex IntegerLiteral();

    [GeneratedRegex(@"\G[a-zA-Z_][a-zA-Z0-9_]*")]
    private static partial Regex NameToken();
}
