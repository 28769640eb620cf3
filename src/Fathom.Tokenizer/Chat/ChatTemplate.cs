using Fathom.Tokenizer.Jinja;
using Fathom.Tokenizer.Jinja.Ast;
using Fathom.Tokenizer.Jinja.Runtime;

namespace Fathom.Tokenizer;

/// <summary>
/// A Hugging Face chat template (the Jinja <c>chat_template</c> of tokenizer_config.json), parsed once and
/// rendered like transformers' <c>apply_chat_template</c>: jinja2 with <c>trim_blocks</c> and <c>lstrip_blocks</c>,
/// default (lenient) undefined values, <c>raise_exception</c>, <c>strftime_now</c> and HF's <c>tojson</c>.
/// Immutable and thread-safe.
/// </summary>
public sealed class ChatTemplate
{
    private readonly SourceText _source;
    private readonly IReadOnlyList<Statement> _statements;

    private ChatTemplate(SourceText source, IReadOnlyList<Statement> statements, string? bosToken, string? eosToken)
    {
        _source = source;
        _statements = statements;
        BosToken = bosToken;
        EosToken = eosToken;
    }

    /// <summary>The template text as given.</summary>
    public string Source => _source.Text;

    /// <summary>The value of <c>bos_token</c> while rendering (from tokenizer_config.json when loaded by a tokenizer).</summary>
    public string? BosToken { get; }

    /// <summary>The value of <c>eos_token</c> while rendering.</summary>
    public string? EosToken { get; }

    /// <summary>Parses a template; syntax errors throw <see cref="ChatTemplateException"/> with line and column.</summary>
    public static ChatTemplate Parse(string source, string? bosToken = null, string? eosToken = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var text = new SourceText(source);
        return new ChatTemplate(text, TemplateParser.Parse(text), bosToken, eosToken);
    }

    /// <summary>
    /// Renders the conversation. Variables: <c>messages</c>, <c>add_generation_prompt</c>, <c>bos_token</c>,
    /// <c>eos_token</c>, plus <paramref name="extraVariables"/> (e.g. <c>tools</c>), which may override them.
    /// Values may be strings, numbers, bools, null, lists, string-keyed dictionaries, <see cref="System.Text.Json.JsonElement"/>,
    /// <see cref="ChatMessage"/> and <see cref="ToolCall"/>.
    /// </summary>
    public string Render(
        IReadOnlyList<ChatMessage> messages,
        bool addGenerationPrompt,
        IReadOnlyDictionary<string, object?>? extraVariables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var globals = new Scope(null);
        foreach (var (name, value) in Globals.Create(() => DateTime.Now))
        {
            globals.Set(name, value);
        }

        var variables = new Scope(globals);
        variables.Set("messages", new ListValue([.. messages.Select(m => (Value)ValueConverter.FromMessage(m))]));
        variables.Set("add_generation_prompt", BoolValue.Of(addGenerationPrompt));
        if (BosToken is not null)
        {
            variables.Set("bos_token", new StringValue(BosToken));
        }

        if (EosToken is not null)
        {
            variables.Set("eos_token", new StringValue(EosToken));
        }

        foreach (var (name, value) in extraVariables ?? new Dictionary<string, object?>())
        {
            variables.Set(name, ValueConverter.FromObject(value));
        }

        var context = new RenderContext(_source, new Scope(variables));
        Statement.ExecuteAll(_statements, context);
        return context.Output.ToString();
    }
}
