using System.Globalization;
using System.Text;

namespace Fathom.Tokenizer.Text;

/// <summary>
/// Rewrites an Oniguruma (Ruby syntax) pattern, as Hugging Face tokenizers run it, into a .NET pattern with
/// the same meaning over Unicode code points. .NET matches UTF-16 code units, so <c>\p{L}</c> or a negated
/// class would see an emoji as two surrogates; here every character-matching atom is evaluated into a
/// <see cref="CodePointSet"/> and emitted as "a BMP class, or one of these surrogate pairs", which makes
/// quantifiers count code points and lets classes match astral characters exactly as Oniguruma does.
/// Structure (groups, alternation, quantifiers, lookaround) is copied through.
/// </summary>
internal sealed class OnigurumaPatternTranslator
{
    private readonly string _pattern;
    private readonly StringBuilder _output = new();
    private readonly Stack<GroupFrame> _groups = new();
    private int _position;
    private int _lastAtomStart = -1;
    private bool _ignoreCase;
    private bool _dotAll;
    private int _lookbehindDepth;

    private OnigurumaPatternTranslator(string pattern)
    {
        _pattern = pattern;
    }

    /// <summary>Translates <paramref name="pattern"/>; throws <see cref="FormatException"/> naming the position of unsupported syntax.</summary>
    public static string Translate(string pattern)
    {
        var translator = new OnigurumaPatternTranslator(pattern);
        translator.Run();
        return translator._output.ToString();
    }

    private void Run()
    {
        while (_position < _pattern.Length)
        {
            var c = _pattern[_position];
            switch (c)
            {
                case '\\':
                    TranslateEscapeOutsideClass();
                    break;
                case '[':
                    _position++;
                    EmitSet(ParseClassBody());
                    break;
                case '.':
                    _position++;
                    EmitSet(_dotAll ? CodePointSet.All : CodePointSet.Single('\n').Complement());
                    break;
                case '(':
                    OpenGroup();
                    break;
                case ')':
                    CloseGroup();
                    break;
                case '|':
                    _position++;
                    _output.Append('|');
                    _lastAtomStart = -1;
                    break;
                case '*' or '+' or '?':
                    _position++;
                    EmitQuantifier(c.ToString());
                    break;
                case '{':
                    if (TryParseInterval(out var interval))
                    {
                        EmitQuantifier(interval);
                    }
                    else
                    {
                        _position++;
                        EmitLiteral('{');
                    }

                    break;
                case '^':
                    _position++;
                    _output.Append("(?m:^)");
                    _lastAtomStart = -1;
                    break;
                case '$':
                    _position++;
                    _output.Append("(?m:$)");
                    _lastAtomStart = -1;
                    break;
                default:
                    EmitLiteral(ReadCodePoint());
                    break;
            }
        }

        if (_groups.Count > 0)
        {
            throw Error("missing ')'");
        }
    }

    private void OpenGroup()
    {
        var start = _output.Length;
        _position++;
        var frame = new GroupFrame(start, _ignoreCase, _dotAll, IsLookbehind: false);
        if (!Peek('?'))
        {
            _output.Append('(');
            _groups.Push(frame);
            _lastAtomStart = -1;
            return;
        }

        _position++;
        var rest = _pattern.AsSpan(_position);
        string opening;
        if (rest.StartsWith(":") || rest.StartsWith("=") || rest.StartsWith("!") || rest.StartsWith(">"))
        {
            opening = "(?" + rest[0];
            _position++;
        }
        else if (rest.StartsWith("<=") || rest.StartsWith("<!"))
        {
            opening = "(?" + rest[..2].ToString();
            _position += 2;
            frame = frame with { IsLookbehind = true };
            _lookbehindDepth++;
        }
        else if (rest.StartsWith("<") || rest.StartsWith("P<"))
        {
            var nameStart = _position + (rest[0] == 'P' ? 2 : 1);
            var nameEnd = _pattern.IndexOf('>', nameStart);
            if (nameEnd < 0)
            {
                throw Error("unterminated group name");
            }

            opening = "(?<" + _pattern[nameStart..nameEnd] + ">";
            _position = nameEnd + 1;
        }
        else if (rest.StartsWith("#"))
        {
            var end = _pattern.IndexOf(')', _position);
            if (end < 0)
            {
                throw Error("unterminated comment group");
            }

            _position = end + 1;
            return;
        }
        else
        {
            TranslateOptionGroup(frame);
            return;
        }

        _output.Append(opening);
        _groups.Push(frame);
        _lastAtomStart = -1;
    }

    /// <summary>Handles <c>(?imx-imx)</c> and <c>(?imx-imx:...)</c>; Ruby's 'm' is .NET's 's' (dot matches newline).</summary>
    private void TranslateOptionGroup(GroupFrame frame)
    {
        var on = true;
        var flags = new StringBuilder();
        var ignoreCase = _ignoreCase;
        var dotAll = _dotAll;
        while (_position < _pattern.Length && _pattern[_position] is not (')' or ':'))
        {
            var flag = _pattern[_position];
            switch (flag)
            {
                case '-':
                    on = false;
                    flags.Append('-');
                    break;
                case 'i':
                    ignoreCase = on;
                    flags.Append('i');
                    break;
                case 'm':
                    dotAll = on;
                    flags.Append('s');
                    break;
                default:
                    throw Error($"unsupported group option '{flag}'");
            }

            _position++;
        }

        if (_position >= _pattern.Length)
        {
            throw Error("unterminated group options");
        }

        var scoped = _pattern[_position] == ':';
        _position++;
        if (scoped)
        {
            _output.Append("(?").Append(flags).Append(':');
            _groups.Push(frame);
            _lastAtomStart = -1;
        }
        else
        {
            // Like Oniguruma, the options run to the end of the enclosing group.
            _output.Append("(?").Append(flags).Append(')');
            _lastAtomStart = -1;
        }

        _ignoreCase = ignoreCase;
        _dotAll = dotAll;
    }

    private void CloseGroup()
    {
        if (_groups.Count == 0)
        {
            throw Error("unmatched ')'");
        }

        _position++;
        var frame = _groups.Pop();
        _output.Append(')');
        _ignoreCase = frame.IgnoreCase;
        _dotAll = frame.DotAll;
        if (frame.IsLookbehind)
        {
            _lookbehindDepth--;
        }

        _lastAtomStart = frame.OutputStart;
    }

    private void EmitQuantifier(string quantifier)
    {
        if (_lastAtomStart < 0)
        {
            throw Error($"quantifier '{quantifier}' has nothing to repeat");
        }

        var atomStart = _lastAtomStart;
        if (Peek('?'))
        {
            _position++;
            _output.Append(quantifier).Append('?');
        }
        else if (Peek('+') && quantifier is "*" or "+" or "?")
        {
            // Possessive: .NET has no possessive quantifiers, an atomic group is the same thing.
            _position++;
            _output.Insert(atomStart, "(?>").Append(quantifier).Append(')');
        }
        else
        {
            _output.Append(quantifier);
        }

        // A quantified atom cannot be quantified again without a group.
        _lastAtomStart = -1;
    }

    private bool TryParseInterval(out string interval)
    {
        interval = "";
        var end = _pattern.IndexOf('}', _position);
        if (end < 0)
        {
            return false;
        }

        var body = _pattern[(_position + 1)..end];
        var parts = body.Split(',');
        if (parts.Length > 2 || parts.Any(p => p.Any(ch => ch is < '0' or > '9')) || (parts.Length == 1 && parts[0].Length == 0))
        {
            return false;
        }

        if (parts.Length == 2 && parts[0].Length == 0 && parts[1].Length == 0)
        {
            return false;
        }

        _position = end + 1;
        interval = parts.Length == 1
            ? "{" + parts[0] + "}"
            : "{" + (parts[0].Length == 0 ? "0" : parts[0]) + "," + parts[1] + "}";
        return true;
    }

    private void TranslateEscapeOutsideClass()
    {
        var escapeStart = _position;
        _position++;
        if (_position >= _pattern.Length)
        {
            throw Error("pattern ends with '\\'");
        }

        var c = _pattern[_position];
        switch (c)
        {
            case 'b' or 'B' or 'A' or 'z' or 'Z' or 'G':
                _position++;
                _output.Append('\\').Append(c);
                _lastAtomStart = -1;
                return;
            case >= '1' and <= '9':
                _position++;
                _lastAtomStart = _output.Length;
                _output.Append('\\').Append(c);
                while (_position < _pattern.Length && char.IsAsciiDigit(_pattern[_position]))
                {
                    _output.Append(_pattern[_position++]);
                }

                return;
            case 'k':
                {
                    var end = _pattern.IndexOf('>', _position);
                    if (!Peek("k<") || end < 0)
                    {
                        throw Error("malformed \\k<name> back reference");
                    }

                    _lastAtomStart = _output.Length;
                    _output.Append('\\').Append(_pattern, _position, end + 1 - _position);
                    _position = end + 1;
                    return;
                }

            case 'R':
                _position++;
                _lastAtomStart = _output.Length;
                _output.Append("(?:\\r\\n|[\\n\\v\\f\\r\\u0085\\u2028\\u2029])");
                return;
            case 'K' or 'X' or 'g' or 'y' or 'Y':
                throw Error($"unsupported escape '\\{c}'", escapeStart);
        }

        _position = escapeStart;
        var escape = ParseEscape(inClass: false);
        if (escape.Set is not null)
        {
            EmitSet(escape.Set);
        }
        else
        {
            EmitLiteral(escape.CodePoint);
        }
    }

    /// <summary>Parses a character escape at the current '\\': a single code point or a class shorthand.</summary>
    private Escape ParseEscape(bool inClass)
    {
        var escapeStart = _position;
        _position++;
        if (_position >= _pattern.Length)
        {
            throw Error("pattern ends with '\\'");
        }

        var c = _pattern[_position++];
        switch (c)
        {
            case 't': return new Escape('\t');
            case 'n': return new Escape('\n');
            case 'r': return new Escape('\r');
            case 'f': return new Escape('\f');
            case 'v': return new Escape('\v');
            case 'a': return new Escape('\a');
            case 'e': return new Escape(0x1B);
            case 'b' when inClass: return new Escape('\b');
            case 'd': return new Escape(UnicodeProperties.Digit);
            case 'D': return new Escape(UnicodeProperties.Digit.Complement());
            case 's': return new Escape(UnicodeProperties.WhiteSpace);
            case 'S': return new Escape(UnicodeProperties.WhiteSpace.Complement());
            case 'w': return new Escape(UnicodeProperties.Word);
            case 'W': return new Escape(UnicodeProperties.Word.Complement());
            case 'h': return new Escape(UnicodeProperties.HexDigit);
            case 'H': return new Escape(UnicodeProperties.HexDigit.Complement());
            case 'N' when !inClass: return new Escape(CodePointSet.Single('\n').Complement());
            case 'O' when !inClass: return new Escape(CodePointSet.All);
            case 'p' or 'P': return new Escape(ParseProperty(negated: c == 'P', escapeStart));
            case 'x':
                if (Peek('{'))
                {
                    var end = _pattern.IndexOf('}', _position);
                    if (end < 0)
                    {
                        throw Error("unterminated \\x{...}", escapeStart);
                    }

                    var hex = _pattern[(_position + 1)..end];
                    _position = end + 1;
                    return new Escape(ParseHex(hex, escapeStart));
                }

                return new Escape(ParseHex(TakeWhile(char.IsAsciiHexDigit, 2), escapeStart));
            case 'u':
                return new Escape(ParseHex(TakeWhile(char.IsAsciiHexDigit, 4), escapeStart, exactLength: 4));
            case >= '0' and <= '7':
                {
                    _position--;
                    var digits = TakeWhile(ch => ch is >= '0' and <= '7', 3);
                    return new Escape(Convert.ToInt32(digits, 8));
                }

            default:
                if (char.IsAsciiLetterOrDigit(c))
                {
                    throw Error($"unsupported escape '\\{c}'", escapeStart);
                }

                _position--;
                return new Escape(ReadCodePoint());
        }
    }

    private CodePointSet ParseProperty(bool negated, int escapeStart)
    {
        string name;
        if (Peek('{'))
        {
            var end = _pattern.IndexOf('}', _position);
            if (end < 0)
            {
                throw Error("unterminated \\p{...}", escapeStart);
            }

            name = _pattern[(_position + 1)..end];
            _position = end + 1;
        }
        else if (_position < _pattern.Length)
        {
            name = _pattern[_position++].ToString();
        }
        else
        {
            throw Error("incomplete \\p", escapeStart);
        }

        if (name.StartsWith('^'))
        {
            negated = !negated;
            name = name[1..];
        }

        var set = UnicodeProperties.Lookup(name) ?? throw Error($"unsupported Unicode property '{name}'", escapeStart);
        return negated ? set.Complement() : set;
    }

    /// <summary>Parses a bracket class after its '[' up to and including the matching ']'.</summary>
    private CodePointSet ParseClassBody()
    {
        var classStart = _position - 1;
        var negated = false;
        if (Peek('^'))
        {
            negated = true;
            _position++;
        }

        var set = CodePointSet.Empty;
        var first = true;
        while (true)
        {
            if (_position >= _pattern.Length)
            {
                throw Error("missing ']'", classStart);
            }

            var c = _pattern[_position];
            if (c == ']' && !first)
            {
                _position++;
                break;
            }

            first = false;
            if (c == '[')
            {
                if (Peek("[:"))
                {
                    throw Error("POSIX bracket expressions are not supported");
                }

                _position++;
                set = set.Union(ParseClassBody());
                continue;
            }

            if (Peek("&&"))
            {
                _position += 2;
                var right = ParseIntersectionOperand();
                set = set.Intersect(right);
                _position++;
                break;
            }

            var (itemSet, codePoint) = ParseClassAtom();
            if (itemSet is not null)
            {
                set = set.Union(itemSet);
                continue;
            }

            if (Peek('-') && _position + 1 < _pattern.Length && _pattern[_position + 1] != ']')
            {
                _position++;
                var (endSet, end) = ParseClassAtom();
                if (endSet is not null)
                {
                    throw Error("a class shorthand cannot end a range");
                }

                if (end < codePoint)
                {
                    throw Error("range out of order in character class");
                }

                set = set.Union(CodePointSet.Range(codePoint, end));
            }
            else
            {
                set = set.Union(CodePointSet.Single(codePoint));
            }
        }

        if (negated)
        {
            set = set.Complement();
        }

        return _ignoreCase ? set.WithCaseVariants() : set;
    }

    /// <summary>The right side of <c>&amp;&amp;</c>: the rest of the class, leaving the closing ']' unread.</summary>
    private CodePointSet ParseIntersectionOperand()
    {
        var body = new StringBuilder("[");
        var depth = 0;
        var start = _position;
        while (_position < _pattern.Length)
        {
            var c = _pattern[_position];
            if (c == '\\')
            {
                _position += 2;
                continue;
            }

            if (c == '[')
            {
                depth++;
            }
            else if (c == ']')
            {
                if (depth == 0)
                {
                    break;
                }

                depth--;
            }

            _position++;
        }

        var inner = new OnigurumaPatternTranslator(body.Append(_pattern, start, _position - start).Append(']').ToString())
        {
            _ignoreCase = _ignoreCase,
            _position = 1,
        };
        return inner.ParseClassBody();
    }

    private (CodePointSet? Set, int CodePoint) ParseClassAtom()
    {
        if (_pattern[_position] == '\\')
        {
            var escape = ParseEscape(inClass: true);
            return (escape.Set, escape.CodePoint);
        }

        return (null, ReadCodePoint());
    }

    private void EmitLiteral(int codePoint)
    {
        _lastAtomStart = _output.Length;
        if (codePoint <= 0xFFFF)
        {
            AppendUnit(codePoint);
            return;
        }

        var text = char.ConvertFromUtf32(codePoint);
        _output.Append("(?:");
        AppendUnit(text[0]);
        AppendUnit(text[1]);
        _output.Append(')');
    }

    private void EmitSet(CodePointSet set)
    {
        _lastAtomStart = _output.Length;
        _output.Append(Utf16SetPattern.Of(set, guardAstral: _lookbehindDepth == 0));
    }

    private void AppendUnit(int codeUnit) => _output.Append(Utf16SetPattern.Unit(codeUnit));

    private int ReadCodePoint()
    {
        var c = _pattern[_position++];
        if (char.IsHighSurrogate(c) && _position < _pattern.Length && char.IsLowSurrogate(_pattern[_position]))
        {
            return char.ConvertToUtf32(c, _pattern[_position++]);
        }

        return c;
    }

    private string TakeWhile(Func<char, bool> predicate, int maxLength)
    {
        var start = _position;
        while (_position < _pattern.Length && _position - start < maxLength && predicate(_pattern[_position]))
        {
            _position++;
        }

        return _pattern[start.._position];
    }

    private int ParseHex(string hex, int escapeStart, int exactLength = 0)
    {
        if (hex.Length == 0 || (exactLength > 0 && hex.Length != exactLength)
            || !int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            || value > CodePointSet.MaxCodePoint)
        {
            throw Error("invalid hexadecimal escape", escapeStart);
        }

        return value;
    }

    private bool Peek(char c) => _position < _pattern.Length && _pattern[_position] == c;

    private bool Peek(string s) => _pattern.AsSpan(_position).StartsWith(s, StringComparison.Ordinal);

    private FormatException Error(string problem, int? at = null) =>
        new($"{problem} at position {at ?? _position} of regex /{_pattern}/");

    private readonly record struct GroupFrame(int OutputStart, bool IgnoreCase, bool DotAll, bool IsLookbehind);

    private readonly struct Escape
    {
        public Escape(int codePoint)
        {
            CodePoint = codePoint;
        }

        public Escape(CodePointSet set)
        {
            Set = set;
        }

        public int CodePoint { get; }

        public CodePointSet? Set { get; }
    }
}
