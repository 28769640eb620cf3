namespace Fathom.Tokenizer.Tests;

/// <summary>HF renders with trim_blocks and lstrip_blocks; these follow jinja2's rules for them and for '-' / '+'.</summary>
public sealed class JinjaWhitespaceTests
{
    [Theory]
    [InlineData("{% if true %}\nyes\n{% endif %}\nafter", "yes\nafter")]
    [InlineData("  {% if true %}\n    yes\n  {% endif %}\nend", "    yes\nend")]
    [InlineData("{% for x in [1, 2] %}\n  {{ x }}\n{% endfor %}\n", "  1\n  2\n")]
    [InlineData("{{ 1 }}\n{{ 2 }}", "1\n2")]
    [InlineData("a\n  {# note #}\nb", "a\nb")]
    [InlineData("a{# note #}b", "ab")]
    [InlineData("text\n", "text")]
    [InlineData("text\n\n", "text\n")]
    [InlineData("{% if true %}\r\nwin\r\n{% endif %}\r\nx", "win\nx")]
    public void TrimBlocksAndLstripBlocks(string template, string expected) => Assert.Equal(expected, Jinja.Render(template));

    [Theory]
    [InlineData("a  {%- if true -%}  b  {%- endif -%}  c", "abc")]
    [InlineData("x  {{- 1 -}}  \n  y", "x1y")]
    [InlineData("x\n\n  {#- gone -#}\n\ny", "xy")]
    [InlineData("{% for x in [1, 2, 3] -%}\n  {{ x }}\n{%- endfor %}", "123")]
    public void MinusStripsAllWhiteSpace(string template, string expected) => Assert.Equal(expected, Jinja.Render(template));

    [Theory]
    [InlineData("  {%+ if true %}a{% endif %}", "  a")]
    [InlineData("{% if true +%}\na{% endif %}", "\na")]
    public void PlusDisablesLstripAndTrim(string template, string expected) => Assert.Equal(expected, Jinja.Render(template));

    [Fact]
    public void LstripOnlyAppliesWhenTheTagStartsTheLine()
    {
        Assert.Equal("a   b", Jinja.Render("a   {% if true %}b{% endif %}"));
        Assert.Equal("\t1", Jinja.Render("\t{% set x = 1 %}\n\t{{ x }}\n"));
    }

    [Fact]
    public void RawBlocksAreNotParsed()
    {
        // endraw is a block tag, so trim_blocks drops the newline after it.
        Assert.Equal("{{ not parsed }}1", Jinja.Render("{% raw %}{{ not parsed }}{% endraw %}\n{{ 1 }}"));
    }
}
