namespace Fathom.Tokenizer.Tests;

/// <summary>
/// DeepSeek templates on conversations the goldens do not cover. Expected strings are written by hand from the
/// templates' text (see the comments), not produced by this code.
/// </summary>
public sealed class DeepSeekChatTemplateTests
{
    private const string Bos = "<｜begin▁of▁sentence｜>";
    private const string Eos = "<｜end▁of▁sentence｜>";

    private const string V2LiteTemplate =
        "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}{% for message in messages %}"
        + "{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n\\n' }}{% elif message['role'] == 'assistant' %}"
        + "{{ 'Assistant: ' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}{% endif %}"
        + "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

    [Fact]
    public void V3ParallelToolCallsThenToolResults()
    {
        ChatMessage[] messages =
        [
            ChatMessage.System("You are a helpful assistant."),
            ChatMessage.User("What's the weather in Paris and Tokyo?"),
            ChatMessage.Assistant(null) with
            {
                ToolCalls =
                [
                    ToolCall.Function("get_weather", "{\"city\": \"Paris\"}", id: "call_1"),
                    ToolCall.Function("get_weather", "{\"city\": \"Tokyo\"}", id: "call_2"),
                ],
            },
            ChatMessage.Tool("{\"temp\": 18}", "call_1"),
            ChatMessage.Tool("{\"temp\": 25}", "call_2"),
        ];

        var (prompt, ids) = DeepSeekV3.Tokenizer.ApplyChatTemplate(messages, addGenerationPrompt: true);

        // The first call opens with <｜Assistant｜><｜tool▁calls▁begin｜>; later calls start with "\n" and, in this
        // template, each is followed by <｜tool▁calls▁end｜><｜end▁of▁sentence｜>. Tool outputs open with
        // <｜tool▁outputs▁begin｜> once, later ones start with "\n", and <｜tool▁outputs▁end｜> closes them after the
        // loop. Because the last message is a tool message (ns.is_tool), no <｜Assistant｜> is added.
        var expected =
            Bos + "You are a helpful assistant."
            + "<｜User｜>What's the weather in Paris and Tokyo?"
            + "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>"
            + "\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Tokyo\"}\n```<｜tool▁call▁end｜>"
            + "<｜tool▁calls▁end｜>" + Eos
            + "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{\"temp\": 18}<｜tool▁output▁end｜>"
            + "\n<｜tool▁output▁begin｜>{\"temp\": 25}<｜tool▁output▁end｜>"
            + "<｜tool▁outputs▁end｜>";
        Assert.Equal(expected, prompt);
        Assert.Equal(prompt, DeepSeekV3.Tokenizer.Decode(ids));
        foreach (var marker in new[] { "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁outputs▁end｜>" })
        {
            Assert.Contains(DeepSeekV3.Tokenizer.TokenToId(marker)!.Value, ids);
        }
    }

    [Fact]
    public void V3SingleToolCallThenAnswerThenUser()
    {
        ChatMessage[] messages =
        [
            ChatMessage.User("Hi"),
            ChatMessage.Assistant(null) with { ToolCalls = [ToolCall.Function("f", "{\"a\": 1}")] },
            ChatMessage.Tool("ok"),
            ChatMessage.Assistant("Done."),
            ChatMessage.User("Thanks"),
        ];

        var prompt = DeepSeekV3.Tokenizer.ChatTemplate!.Render(messages, addGenerationPrompt: true);

        // A single call gets no <｜tool▁calls▁end｜> (only the "else" branch for later calls writes it); the answer
        // after tool output closes the outputs; the final user turn is followed by the generation prompt.
        var expected =
            Bos
            + "<｜User｜>Hi"
            + "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"a\": 1}\n```<｜tool▁call▁end｜>"
            + "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>ok<｜tool▁output▁end｜>"
            + "<｜tool▁outputs▁end｜>Done." + Eos
            + "<｜User｜>Thanks"
            + "<｜Assistant｜>";
        Assert.Equal(expected, prompt);
    }

    [Fact]
    public void V3TwoSystemMessagesAreJoinedWithABlankLine()
    {
        var prompt = DeepSeekV3.Tokenizer.ChatTemplate!.Render(
            [ChatMessage.System("A"), ChatMessage.System("B"), ChatMessage.User("Q")], addGenerationPrompt: false);

        Assert.Equal(Bos + "A\n\nB<｜User｜>Q", prompt);
    }

    [Fact]
    public void V2LiteTemplateRendersConversation()
    {
        var template = ChatTemplate.Parse(V2LiteTemplate, Bos, Eos);
        ChatMessage[] messages = [ChatMessage.System("Be brief."), ChatMessage.User("Hi"), ChatMessage.Assistant("Hello!"), ChatMessage.User("Bye")];

        Assert.Equal(Bos + "Be brief.\n\nUser: Hi\n\nAssistant: Hello!" + Eos + "User: Bye\n\nAssistant:", template.Render(messages, addGenerationPrompt: true));
        Assert.Equal(Bos + "Be brief.\n\nUser: Hi\n\nAssistant: Hello!" + Eos + "User: Bye\n\n", template.Render(messages, addGenerationPrompt: false));
    }

    [Fact]
    public void R1StyleTemplateDropsThinkingFromHistory()
    {
        var template = ChatTemplate.Parse(
            "{% for message in messages %}{% if message['role'] == 'assistant' %}{% set content = message['content'] %}"
            + "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
            + "{{ '<｜Assistant｜>' + content + eos_token }}{% else %}{{ '<｜User｜>' + message.content }}{% endif %}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}",
            Bos,
            Eos);

        var prompt = template.Render([ChatMessage.User("2+2?"), ChatMessage.Assistant("<think>\nadd\n</think>\n\n4"), ChatMessage.User("3+3?")], addGenerationPrompt: true);

        Assert.Equal("<｜User｜>2+2?<｜Assistant｜>\n\n4" + Eos + "<｜User｜>3+3?<｜Assistant｜><think>\n", prompt);
    }

    [Fact]
    public void MessageDictOnlyHasTheOptionalKeysThatAreSet()
    {
        var template = ChatTemplate.Parse(
            "{% for m in messages %}{{ m.role }}:{{ 'tool_calls' in m }},{{ m.tool_call_id is defined }},{{ m.name | default('-') }},"
            + "{{ m.reasoning_content is defined }},{{ m.content is none }};{% endfor %}");

        var text = template.Render(
            [
                ChatMessage.User("u") with { Name = "ann" },
                ChatMessage.Assistant(null) with { ToolCalls = [ToolCall.Function("f", "{}")], ReasoningContent = "r" },
                ChatMessage.Tool("t", "id1"),
            ],
            addGenerationPrompt: false);

        Assert.Equal("user:False,False,ann,False,False;assistant:True,False,-,True,True;tool:False,True,-,False,False;", text);
    }

    [Fact]
    public void ExtraVariablesReachTheTemplate()
    {
        var template = ChatTemplate.Parse("{% for t in tools %}{{ t.function.name }}={{ t | tojson }}{% endfor %}|{{ thinking }}");
        var tools = System.Text.Json.JsonDocument.Parse("[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"x\": [1, 2.5, null, true]}}}]").RootElement;

        var text = template.Render([], addGenerationPrompt: false, new Dictionary<string, object?> { ["tools"] = tools, ["thinking"] = true });

        Assert.Equal("f={\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"x\": [1, 2.5, null, true]}}}|True", text);
    }

    [Fact]
    public void TokenizerWithoutChatTemplateSaysSo()
    {
        var tokenizer = SmallTokenizers.Create();

        Assert.Null(tokenizer.ChatTemplate);
        var error = Assert.Throws<InvalidOperationException>(() => tokenizer.ApplyChatTemplate([ChatMessage.User("hi")]));
        Assert.Contains("no chat template", error.Message, StringComparison.Ordinal);
    }
}
