using Fathom.Tokenizer.Jinja.Ast;

namespace Fathom.Tokenizer.Jinja;

/// <summary>Parses the token stream into statements: text, <c>{{ }}</c> output and the block tags chat templates use.</summary>
internal sealed class TemplateParser
{
    private readonly TokenCursor _cursor;
    private readonly ExpressionParser _expressions;
    private int _loopDepth;

    private TemplateParser(IReadOnlyList<Token> tokens, SourceText source)
    {
        _cursor = new TokenCursor(tokens, source);
        _expressions = new ExpressionParser(_cursor);
    }

    public static IReadOnlyList<Statement> Parse(SourceText source)
    {
        var parser = new TemplateParser(TemplateLexer.Tokenize(source), source);
        return parser.ParseBody([]).Body;
    }

    /// <summary>Parses statements up to one of <paramref name="endTags"/>, consuming "{% tag" but not the rest of that tag.</summary>
    private (List<Statement> Body, string EndTag) ParseBody(string[] endTags)
    {
        var body = new List<Statement>();
        while (true)
        {
            var token = _cursor.Current;
            switch (token.Kind)
            {
                case TokenKind.Text:
                    _cursor.Next();
                    body.Add(new TextStatement(token.Offset, token.Value));
                    break;
                case TokenKind.VariableBegin:
                    _cursor.Next();
                    var expression = _expressions.ParseTuple();
                    _cursor.Expect(TokenKind.VariableEnd, null, "'}}'");
                    body.Add(new OutputStatement(token.Offset, expression));
                    break;
                case TokenKind.BlockBegin:
                    var tag = _cursor.Peek();
                    if (tag.Kind != TokenKind.Name)
                    {
                        throw _cursor.Error($"expected a tag name, got {tag}", tag);
                    }

                    _cursor.Next();
                    _cursor.Next();
                    if (endTags.Contains(tag.Value))
                    {
                        return (body, tag.Value);
                    }

                    body.Add(ParseTag(tag));
                    break;
                case TokenKind.EndOfTemplate:
                    if (endTags.Length > 0)
                    {
                        throw _cursor.Error($"unexpected end of template, expected {string.Join(" or ", endTags.Select(t => $"'{t}'"))}");
                    }

                    return (body, "");
                default:
                    throw _cursor.Error($"unexpected {token}");
            }
        }
    }

    private Statement ParseTag(Token tag) => tag.Value switch
    {
        "if" => ParseIf(tag),
        "for" => ParseFor(tag),
        "set" => ParseSet(tag),
        "macro" => ParseMacro(tag),
        "filter" => ParseFilterBlock(tag),
        "generation" => ParseTransparentBlock(tag, "endgeneration"),
        "break" or "continue" => ParseLoopControl(tag),
        "elif" or "else" or "endif" or "endfor" or "endset" or "endmacro" or "endfilter" or "endgeneration" =>
            throw _cursor.Error($"unexpected '{tag.Value}'", tag),
        "include" or "import" or "from" or "extends" or "block" or "call" or "with" or "autoescape" =>
            throw _cursor.Error($"the '{tag.Value}' tag is not supported in chat templates", tag),
        _ => throw _cursor.Error($"unknown tag '{tag.Value}'", tag),
    };

    private IfStatement ParseIf(Token tag)
    {
        var branches = new List<(Expression, IReadOnlyList<Statement>)>();
        var condition = _expressions.ParseTuple(withConditional: false);
        while (true)
        {
            EndTag();
            var (body, end) = ParseBody(["elif", "else", "endif"]);
            branches.Add((condition, body));
            switch (end)
            {
                case "elif":
                    condition = _expressions.ParseTuple(withConditional: false);
                    continue;
                case "else":
                    EndTag();
                    var (otherwise, _) = ParseBody(["endif"]);
                    EndTag();
                    return new IfStatement(tag.Offset, branches, otherwise);
                default:
                    EndTag();
                    return new IfStatement(tag.Offset, branches, []);
            }
        }
    }

    private ForStatement ParseFor(Token tag)
    {
        var targets = ParseNames();
        _cursor.Expect(TokenKind.Name, "in", "'in'");
        var iterable = _expressions.ParseTuple(withConditional: false);
        var filter = _cursor.SkipName("if") ? _expressions.ParseExpression() : null;
        if (_cursor.Current.IsName("recursive"))
        {
            throw _cursor.Error("recursive loops are not supported");
        }

        EndTag();
        _loopDepth++;
        var (body, end) = ParseBody(["endfor", "else"]);
        _loopDepth--;
        List<Statement> otherwise = [];
        if (end == "else")
        {
            EndTag();
            (otherwise, _) = ParseBody(["endfor"]);
        }

        EndTag();
        return new ForStatement(tag.Offset, targets, iterable, filter, body, otherwise);
    }

    private Statement ParseSet(Token tag)
    {
        AssignmentTarget target;
        var first = _cursor.ExpectName("a variable name");
        if (_cursor.SkipOperator("."))
        {
            target = AssignmentTarget.NamespaceAttribute(first, _cursor.ExpectName("an attribute name"));
        }
        else if (_cursor.Current.IsOperator(","))
        {
            var names = new List<string> { first };
            while (_cursor.SkipOperator(","))
            {
                names.Add(_cursor.ExpectName("a variable name"));
            }

            target = AssignmentTarget.Unpacking(names);
        }
        else
        {
            target = AssignmentTarget.Name(first);
        }

        if (_cursor.SkipOperator("="))
        {
            var value = _expressions.ParseTuple();
            EndTag();
            return new SetStatement(tag.Offset, target, value);
        }

        var filters = _expressions.ParseFilterChain();
        EndTag();
        var (body, _) = ParseBody(["endset"]);
        EndTag();
        return new SetBlockStatement(tag.Offset, target, filters, body);
    }

    private MacroStatement ParseMacro(Token tag)
    {
        var name = _cursor.ExpectName("a macro name");
        _cursor.ExpectOperator("(");
        var parameters = new List<(string, Expression?)>();
        while (!_cursor.Current.IsOperator(")"))
        {
            if (parameters.Count > 0)
            {
                _cursor.ExpectOperator(",");
            }

            var parameter = _cursor.ExpectName("a parameter name");
            parameters.Add((parameter, _cursor.SkipOperator("=") ? _expressions.ParseExpression() : null));
        }

        _cursor.ExpectOperator(")");
        EndTag();
        var savedDepth = _loopDepth;
        _loopDepth = 0;
        var (body, _) = ParseBody(["endmacro"]);
        _loopDepth = savedDepth;
        if (_cursor.Current.Kind == TokenKind.Name)
        {
            _cursor.Next();
        }

        EndTag();
        return new MacroStatement(tag.Offset, name, parameters, body);
    }

    private FilterBlockStatement ParseFilterBlock(Token tag)
    {
        var filters = _expressions.ParseFilterChain(firstWithoutPipe: true);
        EndTag();
        var (body, _) = ParseBody(["endfilter"]);
        EndTag();
        return new FilterBlockStatement(tag.Offset, filters, body);
    }

    private TransparentBlockStatement ParseTransparentBlock(Token tag, string endTag)
    {
        EndTag();
        var (body, _) = ParseBody([endTag]);
        EndTag();
        return new TransparentBlockStatement(tag.Offset, body);
    }

    private LoopControlStatement ParseLoopControl(Token tag)
    {
        if (_loopDepth == 0)
        {
            throw _cursor.Error($"'{tag.Value}' outside of a loop", tag);
        }

        EndTag();
        return new LoopControlStatement(tag.Offset, tag.Value == "break" ? Completion.Break : Completion.Continue);
    }

    private List<string> ParseNames()
    {
        var parenthesized = _cursor.SkipOperator("(");
        var names = new List<string> { _cursor.ExpectName("a loop variable name") };
        while (_cursor.SkipOperator(","))
        {
            names.Add(_cursor.ExpectName("a loop variable name"));
        }

        if (parenthesized)
        {
            _cursor.ExpectOperator(")");
        }

        return names;
    }

    private void EndTag() => _cursor.Expect(TokenKind.BlockEnd, null, "end of tag '%}'");
}
