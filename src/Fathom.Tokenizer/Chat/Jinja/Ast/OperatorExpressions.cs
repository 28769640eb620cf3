using Fathom.Tokenizer.Jinja.Runtime;

namespace Fathom.Tokenizer.Jinja.Ast;

/// <summary><c>not x</c>, <c>-x</c>, <c>+x</c>.</summary>
internal sealed class UnaryExpression(int offset, string op, Expression operand) : Expression(offset)
{
    public override Value Evaluate(RenderContext context)
    {
        var value = operand.Evaluate(context);
        return op switch
        {
            "not" => BoolValue.Of(!value.IsTruthy),
            "-" => Operators.Negate(value),
            _ => Operators.IsNumber(value) ? value : throw new TemplateRuntimeException($"bad operand type for unary +: '{value.TypeName}'"),
        };
    }
}

/// <summary>Binary operators; <c>and</c>/<c>or</c> short-circuit and return an operand, as in Python.</summary>
internal sealed class BinaryExpression(int offset, string op, Expression left, Expression right) : Expression(offset)
{
    public override Value Evaluate(RenderContext context)
    {
        var a = left.Evaluate(context);
        switch (op)
        {
            case "and":
                return a.IsTruthy ? right.Evaluate(context) : a;
            case "or":
                return a.IsTruthy ? a : right.Evaluate(context);
        }

        var b = right.Evaluate(context);
        return op switch
        {
            "+" => Operators.Add(a, b),
            "-" => Operators.Subtract(a, b),
            "*" => Operators.Multiply(a, b),
            "/" => Operators.Divide(a, b),
            "//" => Operators.FloorDivide(a, b),
            "%" => Operators.Modulo(a, b),
            "**" => Operators.Power(a, b),
            "~" => Operators.Concat(a, b),
            _ => throw new TemplateRuntimeException($"unknown operator '{op}'"),
        };
    }
}

/// <summary>A comparison chain: <c>a &lt; b &lt;= c</c> means <c>a &lt; b and b &lt;= c</c>; also <c>in</c> and <c>not in</c>.</summary>
internal sealed class CompareExpression(int offset, Expression first, IReadOnlyList<(string Op, Expression Operand)> rest) : Expression(offset)
{
    public override Value Evaluate(RenderContext context)
    {
        var left = first.Evaluate(context);
        foreach (var (op, operand) in rest)
        {
            var right = operand.Evaluate(context);
            var holds = op switch
            {
                "==" => Operators.AreEqual(left, right),
                "!=" => !Operators.AreEqual(left, right),
                "<" => Operators.Compare(left, right, op) < 0,
                "<=" => Operators.Compare(left, right, op) <= 0,
                ">" => Operators.Compare(left, right, op) > 0,
                ">=" => Operators.Compare(left, right, op) >= 0,
                "in" => Operators.Contains(right, left),
                "not in" => !Operators.Contains(right, left),
                _ => throw new TemplateRuntimeException($"unknown comparison '{op}'"),
            };
            if (!holds)
            {
                return BoolValue.False;
            }

            left = right;
        }

        return BoolValue.True;
    }
}

/// <summary><c>a if condition else b</c>; without <c>else</c> a false condition gives undefined.</summary>
internal sealed class ConditionalExpression(int offset, Expression condition, Expression then, Expression? otherwise) : Expression(offset)
{
    public override Value Evaluate(RenderContext context)
    {
        if (condition.Evaluate(context).IsTruthy)
        {
            return then.Evaluate(context);
        }

        return otherwise?.Evaluate(context)
            ?? new UndefinedValue("the inline if-expression evaluated to false and no else section was defined");
    }
}

/// <summary><c>value | filter(args)</c>.</summary>
internal sealed class FilterExpression(int offset, Expression target, string name, IReadOnlyList<Expression> arguments, IReadOnlyList<(string Name, Expression Value)> named)
    : Expression(offset)
{
    public override Value Evaluate(RenderContext context) =>
        Filters.Apply(name, target.Evaluate(context), Arguments.Evaluate(context, arguments, named));
}

/// <summary><c>value is [not] test(args)</c>.</summary>
internal sealed class TestExpression(int offset, Expression target, string name, IReadOnlyList<Expression> arguments, bool negated) : Expression(offset)
{
    public override Value Evaluate(RenderContext context) =>
        BoolValue.Of(Tests.Apply(name, target.Evaluate(context), Arguments.Evaluate(context, arguments, [])) != negated);
}
