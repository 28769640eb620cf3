using System.Globalization;
using Fathom.Tokenizer.Jinja.Ast;
using Fathom.Tokenizer.Jinja.Runtime;

namespace Fathom.Tokenizer.Jinja;

/// <summary>
/// Parses Jinja expressions with jinja2's precedence, loosest first: inline if, or, and, not, comparisons
/// (incl. in / not in), + -, ~, * / // %, **, unary - +, then postfix (.attr, [item], call) and
/// filters / tests (<c>|f</c>, <c>is t</c>), which bind tighter than everything but postfix.
/// </summary>
internal sealed class ExpressionParser
{
    private static readonly HashSet<string> Comparisons = ["==", "!=", "<", "<=", ">", ">="];

    private readonly TokenCursor _cursor;

    public ExpressionParser(TokenCursor cursor)
    {
        _cursor = cursor;
    }

    /// <summary>An expression or a comma-separated tuple (as in <c>{{ a, b }}</c> or <c>{% set x = 1, 2 %}</c>).</summary>
    public Expression ParseTuple(bool withConditional = true)
    {
        var start = _cursor.Current;
        var items = new List<Expression>();
        var sawComma = false;
        while (true)
        {
            if (items.Count > 0)
            {
                if (!_cursor.SkipOperator(","))
                {
                    break;
                }

                sawComma = true;
            }

            if (IsTupleEnd())
            {
                break;
            }

            items.Add(withConditional ? ParseExpression() : ParseOr());
        }

        if (!sawComma)
        {
            return items.Count == 1 ? items[0] : throw _cursor.Error($"expected an expression, got {_cursor.Current}");
        }

        return new ListExpression(start.Offset, items, isTuple: true);
    }

    public Expression ParseExpression()
    {
        var expression = ParseOr();
        while (_cursor.Current.IsName("if"))
        {
            var token = _cursor.Next();
            var condition = ParseOr();
            var otherwise = _cursor.SkipName("else") ? ParseExpression() : null;
            expression = new ConditionalExpression(token.Offset, condition, expression, otherwise);
        }

        return expression;
    }

    public Expression ParseOr()
    {
        var left = ParseAnd();
        while (_cursor.Current.IsName("or"))
        {
            var token = _cursor.Next();
            left = new BinaryExpression(token.Offset, "or", left, ParseAnd());
        }

        return left;
    }

    /// <summary>Filters with their arguments, each after a '|' (the first one without, for <c>{% filter %}</c>).</summary>
    public List<FilterCall> ParseFilterChain(bool firstWithoutPipe = false)
    {
        var filters = new List<FilterCall>();
        while ((firstWithoutPipe && filters.Count == 0) || _cursor.SkipOperator("|"))
        {
            var name = ParseDottedName("a filter name");
            var (arguments, named) = _cursor.Current.IsOperator("(") ? ParseCallArguments() : ([], []);
            filters.Add(new FilterCall(name, arguments, named));
        }

        return filters;
    }

    private Expression ParseAnd()
    {
        var left = ParseNot();
        while (_cursor.Current.IsName("and"))
        {
            var token = _cursor.Next();
            left = new BinaryExpression(token.Offset, "and", left, ParseNot());
        }

        return left;
    }

    private Expression ParseNot()
    {
        if (_cursor.Current.IsName("not"))
        {
            var token = _cursor.Next();
            return new UnaryExpression(token.Offset, "not", ParseNot());
        }

        return ParseCompare();
    }

    private Expression ParseCompare()
    {
        var start = _cursor.Current;
        var first = ParseAdditive();
        var rest = new List<(string, Expression)>();
        while (true)
        {
            var token = _cursor.Current;
            if (token.Kind == TokenKind.Operator && Comparisons.Contains(token.Value))
            {
                _cursor.Next();
                rest.Add((token.Value, ParseAdditive()));
            }
            else if (token.IsName("in"))
            {
                _cursor.Next();
                rest.Add(("in", ParseAdditive()));
            }
            else if (token.IsName("not") && _cursor.Peek().IsName("in"))
            {
                _cursor.Next();
                _cursor.Next();
                rest.Add(("not in", ParseAdditive()));
            }
            else
            {
                break;
            }
        }

        return rest.Count == 0 ? first : new CompareExpression(start.Offset, first, rest);
    }

    private Expression ParseAdditive()
    {
        var left = ParseConcat();
        while (_cursor.Current.IsOperator("+") || _cursor.Current.IsOperator("-"))
        {
            var token = _cursor.Next();
            left = new BinaryExpression(token.Offset, token.Value, left, ParseConcat());
        }

        return left;
    }

    private Expression ParseConcat()
    {
        var left = ParseMultiplicative();
        while (_cursor.Current.IsOperator("~"))
        {
            var token = _cursor.Next();
            left = new BinaryExpression(token.Offset, "~", left, ParseMultiplicative());
        }

        return left;
    }

    private Expression ParseMultiplicative()
    {
        var left = ParsePower();
        while (_cursor.Current.Kind == TokenKind.Operator && _cursor.Current.Value is "*" or "/" or "//" or "%")
        {
            var token = _cursor.Next();
            left = new BinaryExpression(token.Offset, token.Value, left, ParsePower());
        }

        return left;
    }

    private Expression ParsePower()
    {
        var left = ParseUnary(withFilters: true);
        while (_cursor.Current.IsOperator("**"))
        {
            var token = _cursor.Next();
            left = new BinaryExpression(token.Offset, "**", left, ParseUnary(withFilters: true));
        }

        return left;
    }

    private Expression ParseUnary(bool withFilters)
    {
        var token = _cursor.Current;
        Expression expression;
        if (token.IsOperator("-") || token.IsOperator("+"))
        {
            _cursor.Next();
            expression = new UnaryExpression(token.Offset, token.Value, ParseUnary(withFilters: false));
        }
        else
        {
            expression = ParsePrimary();
        }

        expression = ParsePostfix(expression);
        return withFilters ? ParseFiltersAndTests(expression) : expression;
    }

    private Expression ParsePrimary()
    {
        var token = _cursor.Current;
        switch (token.Kind)
        {
            case TokenKind.Name:
                _cursor.Next();
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpression(token.Offset, BoolValue.True),
                    "false" or "False" => new LiteralExpression(token.Offset, BoolValue.False),
                    "none" or "None" => new LiteralExpression(token.Offset, NoneValue.Instance),
                    _ => new NameExpression(token.Offset, token.Value),
                };
            case TokenKind.String:
                {
                    // Adjacent string literals concatenate, as in Python.
                    var text = _cursor.Next().Value;
                    while (_cursor.Current.Kind == TokenKind.String)
                    {
                        text += _cursor.Next().Value;
                    }

                    return new LiteralExpression(token.Offset, new StringValue(text));
                }

            case TokenKind.Integer:
                _cursor.Next();
                return new LiteralExpression(token.Offset, new IntegerValue(ParseInteger(token)));
            case TokenKind.Float:
                _cursor.Next();
                return new LiteralExpression(token.Offset, new FloatValue(double.Parse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture)));
            case TokenKind.Operator when token.Value == "(":
                {
                    _cursor.Next();
                    if (_cursor.SkipOperator(")"))
                    {
                        return new ListExpression(token.Offset, [], isTuple: true);
                    }

                    var inner = ParseTuple();
                    _cursor.ExpectOperator(")");
                    return inner;
                }

            case TokenKind.Operator when token.Value == "[":
                {
                    _cursor.Next();
                    var items = new List<Expression>();
                    while (!_cursor.Current.IsOperator("]"))
                    {
                        if (items.Count > 0)
                        {
                            _cursor.ExpectOperator(",");
                            if (_cursor.Current.IsOperator("]"))
                            {
                                break;
                            }
                        }

                        items.Add(ParseExpression());
                    }

                    _cursor.ExpectOperator("]");
                    return new ListExpression(token.Offset, items, isTuple: false);
                }

            case TokenKind.Operator when token.Value == "{":
                {
                    _cursor.Next();
                    var entries = new List<(Expression, Expression)>();
                    while (!_cursor.Current.IsOperator("}"))
                    {
                        if (entries.Count > 0)
                        {
                            _cursor.ExpectOperator(",");
                            if (_cursor.Current.IsOperator("}"))
                            {
                                break;
                            }
                        }

                        var key = ParseExpression();
                        _cursor.ExpectOperator(":");
                        entries.Add((key, ParseExpression()));
                    }

                    _cursor.ExpectOperator("}");
                    return new DictExpression(token.Offset, entries);
                }

            default:
                throw _cursor.Error($"unexpected {token}");
        }
    }

    private Expression ParsePostfix(Expression expression)
    {
        while (true)
        {
            var token = _cursor.Current;
            if (token.IsOperator("."))
            {
                _cursor.Next();
                var member = _cursor.Current;
                if (member.Kind == TokenKind.Integer)
                {
                    _cursor.Next();
                    expression = new ItemExpression(token.Offset, expression, new LiteralExpression(member.Offset, new IntegerValue(ParseInteger(member))));
                }
                else
                {
                    expression = new AttributeExpression(token.Offset, expression, _cursor.ExpectName("an attribute name after '.'"));
                }
            }
            else if (token.IsOperator("["))
            {
                _cursor.Next();
                expression = ParseSubscript(token, expression);
            }
            else if (token.IsOperator("("))
            {
                var (arguments, named) = ParseCallArguments();
                expression = new CallExpression(token.Offset, expression, arguments, named);
            }
            else
            {
                return expression;
            }
        }
    }

    private Expression ParseSubscript(Token open, Expression target)
    {
        Expression? Part() => _cursor.Current.IsOperator(":") || _cursor.Current.IsOperator("]") ? null : ParseExpression();

        var start = Part();
        if (!_cursor.SkipOperator(":"))
        {
            _cursor.ExpectOperator("]");
            return new ItemExpression(open.Offset, target, start ?? throw _cursor.Error("expected a subscript"));
        }

        var stop = Part();
        var step = _cursor.SkipOperator(":") ? Part() : null;
        _cursor.ExpectOperator("]");
        return new SliceExpression(open.Offset, target, start, stop, step);
    }

    private Expression ParseFiltersAndTests(Expression expression)
    {
        while (true)
        {
            var token = _cursor.Current;
            if (token.IsOperator("|"))
            {
                _cursor.Next();
                var name = ParseDottedName("a filter name");
                var (arguments, named) = _cursor.Current.IsOperator("(") ? ParseCallArguments() : ([], []);
                expression = new FilterExpression(token.Offset, expression, name, arguments, named);
            }
            else if (token.IsName("is"))
            {
                _cursor.Next();
                var negated = _cursor.SkipName("not");
                var name = ParseDottedName("a test name");
                List<Expression> arguments = [];
                if (_cursor.Current.IsOperator("("))
                {
                    arguments = ParseCallArguments().Positional;
                }
                else if (StartsTestArgument(_cursor.Current))
                {
                    arguments = [ParsePostfix(ParsePrimary())];
                }

                expression = new TestExpression(token.Offset, expression, name, arguments, negated);
            }
            else if (token.IsOperator("("))
            {
                var (arguments, named) = ParseCallArguments();
                expression = new CallExpression(token.Offset, expression, arguments, named);
            }
            else
            {
                return expression;
            }
        }
    }

    /// <summary>jinja2 lets a test take one argument without parentheses: <c>x is divisibleby 3</c>.</summary>
    private static bool StartsTestArgument(Token token) =>
        token.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
            ? !(token.IsName("else") || token.IsName("or") || token.IsName("and"))
            : token.IsOperator("(") || token.IsOperator("[") || token.IsOperator("{");

    private (List<Expression> Positional, List<(string Name, Expression Value)> Named) ParseCallArguments()
    {
        _cursor.ExpectOperator("(");
        var positional = new List<Expression>();
        var named = new List<(string, Expression)>();
        while (!_cursor.Current.IsOperator(")"))
        {
            if (positional.Count + named.Count > 0)
            {
                _cursor.ExpectOperator(",");
                if (_cursor.Current.IsOperator(")"))
                {
                    break;
                }
            }

            if (_cursor.Current.IsOperator("*") || _cursor.Current.IsOperator("**"))
            {
                throw _cursor.Error("*args and **kwargs in calls are not supported");
            }

            if (_cursor.Current.Kind == TokenKind.Name && _cursor.Peek().IsOperator("="))
            {
                var name = _cursor.Next().Value;
                _cursor.Next();
                named.Add((name, ParseExpression()));
            }
            else if (named.Count > 0)
            {
                throw _cursor.Error("positional argument follows keyword argument");
            }
            else
            {
                positional.Add(ParseExpression());
            }
        }

        _cursor.ExpectOperator(")");
        return (positional, named);
    }

    private string ParseDottedName(string description)
    {
        var name = _cursor.ExpectName(description);
        while (_cursor.Current.IsOperator(".") && _cursor.Peek().Kind == TokenKind.Name)
        {
            _cursor.Next();
            name += "." + _cursor.Next().Value;
        }

        return name;
    }

    private bool IsTupleEnd() =>
        _cursor.Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.EndOfTemplate
        || _cursor.Current.IsOperator(")") || _cursor.Current.IsOperator("=");

    private long ParseInteger(Token token)
    {
        var text = token.Value.ToLowerInvariant();
        try
        {
            return text.Length > 2 && text[0] == '0' && text[1] is 'b' or 'o' or 'x'
                ? Convert.ToInt64(text[2..], text[1] switch { 'b' => 2, 'o' => 8, _ => 16 })
                : long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
        }
        catch (OverflowException)
        {
            throw _cursor.Error($"integer literal {token.Value} is too large", token);
        }
    }
}
