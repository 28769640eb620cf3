namespace Fathom.Tokenizer.Tests;

public sealed class JinjaErrorTests
{
    [Fact]
    public void UnclosedBlockNamesTheMissingTag()
    {
        var error = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{% if x %}never closed"));

        Assert.Contains("'endif'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SyntaxErrorsCarryLineAndColumn()
    {
        var error = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("line one\n  {{ 1 + }}"));

        Assert.Equal(2, error.Line);
        Assert.Equal(10, error.Column);
        Assert.Contains("line 2, column 10", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{{ 'unterminated }}")]
    [InlineData("{% for %}{% endfor %}")]
    [InlineData("{% frobnicate %}")]
    [InlineData("{% endif %}")]
    [InlineData("{{ (1 }}")]
    [InlineData("{# no end")]
    [InlineData("{% break %}")]
    [InlineData("{% include 'x' %}")]
    public void MalformedTemplatesAreRejected(string template)
    {
        var error = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(template));

        Assert.NotNull(error.Line);
    }

    [Fact]
    public void RaiseExceptionStopsRenderingWithTheTemplatesMessage()
    {
        var template = ChatTemplate.Parse("ok\n{% if messages[0].role != 'system' %}{{ raise_exception('System message required') }}{% endif %}");

        var error = Assert.Throws<ChatTemplateException>(() => template.Render([ChatMessage.User("hi")], addGenerationPrompt: false));

        Assert.True(error.RaisedByTemplate);
        Assert.StartsWith("System message required", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, error.Line);
    }

    [Theory]
    [InlineData("{{ missing.attribute }}", "'missing' is undefined")]
    [InlineData("{{ messages[0].nothing.deeper }}", "'dict object' has no attribute 'nothing'")]
    [InlineData("{{ 'a' + missing }}", "'missing' is undefined")]
    [InlineData("{{ 'a' + 1 }}", "unsupported operand type(s) for +: 'str' and 'int'")]
    [InlineData("{{ 1 | nosuchfilter }}", "no filter named 'nosuchfilter'")]
    [InlineData("{{ 1 is nosuchtest }}", "no test named 'nosuchtest'")]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", "cannot assign attribute on non-namespace object 'x'")]
    [InlineData("{% for x in none %}{% endfor %}", "'NoneType' object is not iterable")]
    [InlineData("{{ 1 // 0 }}", "integer division or modulo by zero")]
    public void RuntimeErrorsExplainThemselves(string template, string message)
    {
        var error = Assert.Throws<ChatTemplateException>(() => Jinja.Render(template));

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        Assert.False(error.RaisedByTemplate);
    }

    [Fact]
    public void UndefinedIsLenientWhereJinjaIsLenient()
    {
        Assert.Equal("[]|False|0|", Jinja.Render("[{{ missing }}]|{{ missing is defined }}|{{ missing | length }}|{% for x in missing %}x{% endfor %}"));
    }
}
