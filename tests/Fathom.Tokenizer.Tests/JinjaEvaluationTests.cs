using System.Text.Json;

namespace Fathom.Tokenizer.Tests;

public sealed class JinjaEvaluationTests
{
    [Theory]
    [InlineData("{% for x in ['a', 'b', 'c'] %}{{ loop.index0 }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}", "0a,1b,2c")]
    [InlineData("{% for x in [1, 2, 3] %}{{ loop.index }}/{{ loop.length }}{{ 'F' if loop.first }}{{ loop.revindex }} {% endfor %}", "1/3F3 2/32 3/31 ")]
    [InlineData("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;")]
    [InlineData("{% for x in [] %}a{% else %}empty{% endfor %}", "empty")]
    [InlineData("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}:{{ loop.length }} {% endfor %}", "2:2 4:2 ")]
    [InlineData("{% for x in range(6) %}{% if x == 4 %}{% break %}{% endif %}{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}", "023")]
    [InlineData("{% for c in 'ab' %}{{ c }}{{ loop.cycle('+', '-') }}{% endfor %}", "a+b-")]
    [InlineData("{% set x = 1 %}{% for i in [5, 6] %}{% set x = i %}{% endfor %}{{ x }}", "1")]
    [InlineData("{% set ns = namespace(total=0, s='') %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.total }} {{ ns.s }}", "6 123")]
    [InlineData("{% for m in messages %}{{ m.role }}|{{ m['content'] }}{% endfor %}", "user|Hello big world")]
    public void Loops(string template, string expected) => Assert.Equal(expected, Jinja.Render(template));

    [Theory]
    [InlineData("{{ '  hi  ' | trim }}|{{ 'xxhixx' | trim('x') }}", "hi|hi")]
    [InlineData("{{ 'abc' | length }}{{ [1, 2] | length }}{{ {'a': 1} | length }}{{ missing | length }}", "3210")]
    [InlineData("{{ missing | default('d') }}|{{ '' | default('e', true) }}|{{ 'set' | d('x') }}", "d|e|set")]
    [InlineData("{{ [3, 1, 2] | sort | join(',') }}|{{ ['b', 'A', 'c'] | sort | join }}|{{ [1, 2, 3] | reverse | list }}", "1,2,3|Abc|[3, 2, 1]")]
    [InlineData("{{ 'Hello' | upper }}{{ 'Hello' | lower }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}", "HELLOhello|Hello World|Hello")]
    [InlineData("{{ [1, 2, 3] | first }}{{ [1, 2, 3] | last }}|{{ [1, 2, 2, 1] | unique | list }}|{{ [1, 2, 3] | sum }}", "13|[1, 2]|6")]
    [InlineData("{{ 'a\\nb' | indent(2) }}|{{ 3.14159 | round(2) }}|{{ 2.5 | round }}|{{ '42' | int + 1 }}", "a\n  b|3.14|2.0|43")]
    [InlineData("{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join }}", "Hello big world")]
    public void Filters(string template, string expected) => Assert.Equal(expected, Jinja.Render(template));

    [Theory]
    [InlineData("{{ {'a': [1, 2.5, none, true, 'é\"\\n']} | tojson }}", "{\"a\": [1, 2.5, null, true, \"é\\\"\\n\"]}")]
    [InlineData("{{ {'b': 1, 'a': 2} | tojson(indent=2) }}", "{\n  \"b\": 1,\n  \"a\": 2\n}")]
    [InlineData("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}", "{\"a\": 2, \"b\": 1}")]
    [InlineData("{{ [1, 2] | tojson(separators=(',', ':')) }}|{{ [] | tojson(indent=2) }}|{{ 'x<y' | tojson }}", "[1,2]|[]|\"x<y\"")]
    public void ToJsonIsPythonJsonDumpsWithoutAsciiEscaping(string template, string expected) => Assert.Equal(expected, Jinja.Render(template));

    [Theory]
    [InlineData("{{ 'a,b'.split(',') }}|{{ '  a  b '.split() }}|{{ 'a-b-c'.split('-', 1) }}|{{ 'a-b-c'.rsplit('-', 1) }}", "['a', 'b']|['a', 'b']|['a', 'b-c']|['a-b', 'c']")]
    [InlineData("{{ 'abc'.startswith(('x', 'a')) }}{{ 'abc'.endswith('bc') }}|{{ ' x '.strip() }}|{{ '\\nx\\n'.lstrip('\\n') }}|", "TrueTrue|x|x\n|")]
    [InlineData("{{ 'abab'.replace('b', 'B') }}|{{ 'abab'.replace('b', 'B', 1) }}|{{ 'abc'.find('c') }}|{{ '-'.join(['x', 'y']) }}", "aBaB|aBab|2|x-y")]
    [InlineData("{% set content = '<think>hm</think>answer' %}{% if '</think>' in content %}{{ content.split('</think>')[-1] }}{% endif %}", "answer")]
    [InlineData("{{ messages[0].get('missing', 'dflt') }}|{{ messages[0].get('role') }}|{{ messages[0].keys() | list }}", "dflt|user|['role', 'content']")]
    public void Methods(string template, string expected) => Assert.Equal(expected, Jinja.Render(template));

    [Theory]
    [InlineData("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 / 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 1 + 2.5 }}", "3 -4 3.5 2 1024 3.5")]
    [InlineData("{{ 'a' * 3 }} {{ [1] + [2] }} {{ 1 ~ 2 ~ 'x' }} {{ 'a' ~ missing ~ 'b' }}", "aaa [1, 2] 12x ab")]
    [InlineData("{{ 1 == 1.0 }}{{ 'a' < 'b' }}{{ 1 < 2 < 3 }}{{ 3 > 2 > 5 }}{{ 'b' in 'abc' }}{{ 'z' not in ['a'] }}{{ 'role' in messages[0] }}", "TrueTrueTrueFalseTrueTrueTrue")]
    [InlineData("{{ none }}|{{ true }}|{{ 1.0 }}|{{ 1e16 }}|{{ 1e-5 }}|{{ 0.1 + 0.2 }}|{{ [1, 'a', none] }}|{{ {'k': \"it's\"} }}|{{ (1,) }}", "None|True|1.0|1e+16|1e-05|0.30000000000000004|[1, 'a', None]|{'k': \"it's\"}|(1,)")]
    [InlineData("{{ 'abc'[::-1] }}{{ 'abc'[1:] }}{{ [1, 2, 3][-1] }}{{ [1, 2, 3, 4, 5][1:4:2] }}{{ 'hello'[-3:] }}{{ [1, 2][5:] }}", "cbabc3[2, 4]llo[]")]
    [InlineData("{{ 'y' if true else 'n' }}|{{ 'y' if false }}|{{ not true }}|{{ true and 'a' }}|{{ false or 'b' }}|{{ -3 | abs }}", "y||False|a|b|3")]
    [InlineData("{{ missing is defined }}{{ missing is undefined }}{{ none is none }}{{ 1 is not none }}{{ 'a' is string }}{{ 4 is divisibleby 2 }}{{ {} is mapping }}", "FalseTrueTrueTrueTrueTrueTrue")]
    [InlineData("{{ not missing is defined }}|{{ messages[0].missing }}|{{ messages[0].missing is defined }}", "True||False")]
    [InlineData("{% set d = {'a': {'b': [10, 20]}} %}{{ d.a.b[1] }}{{ d['a']['b'][0] }}{{ d.a.b.0 }}", "201010")]
    [InlineData("{% set x %}inner {{ 1 + 1 }}{% endset %}[{{ x }}]|{% set a, b = 1, 2 %}{{ a }}{{ b }}", "[inner 2]|12")]
    [InlineData("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(name='C', punct='.') }}", "Hi A! Hi B? Hi C.")]
    [InlineData("{% if x == 1 %}one{% elif x == 2 %}two{% else %}other{% endif %}", "two")]
    [InlineData("{{ 'a' 'b' }}{{ \"x\\ty\" }}{{ '\\u00e9\\x41' }}{{ 'it\\'s' }}", "abx\tyéAit's")]
    public void Expressions(string template, string expected) =>
        Assert.Equal(expected, Jinja.Render(template, new Dictionary<string, object?> { ["x"] = 2 }));

    [Fact]
    public void BosAndEosComeFromTheTemplateAndCanBeOverridden()
    {
        Assert.Equal("<s>|</s>", Jinja.Render("{{ bos_token }}|{{ eos_token }}"));
        Assert.Equal("B", Jinja.Render("{{ bos_token }}", new Dictionary<string, object?> { ["bos_token"] = "B" }));
    }

    [Fact]
    public void DotNetValuesBecomeTemplateValues()
    {
        var variables = new Dictionary<string, object?>
        {
            ["list"] = new object?[] { 1, 2.5, "s", null, true },
            ["dict"] = new Dictionary<string, object?> { ["k"] = new[] { "v" } },
            ["json"] = JsonDocument.Parse("{\"n\": 1, \"f\": 1.5}").RootElement,
        };

        Assert.Equal("[1, 2.5, 's', None, True]|['v']|1 1.5", Jinja.Render("{{ list }}|{{ dict.k }}|{{ json.n }} {{ json.f }}", variables));
    }
}
