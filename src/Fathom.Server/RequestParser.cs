using System.Text.Json;
using Fathom.Engine;
using Fathom.Tokenizer;

namespace Fathom.Server;

/// <summary>Turns request JSON into a <see cref="GenerationJob"/>: the edge where JSON stops.</summary>
internal sealed class RequestParser(ServedModel model)
{
    private const int MaxStopStrings = 16;
    private const int MaxChoices = 16;

    private int MaxContext => model.Scheduler.MaxContext;

    /// <summary>POST /v1/chat/completions.</summary>
    public GenerationJob ParseChat(JsonElement body)
    {
        RequireObject(body);
        CheckModel(body);
        var tokenizer = RequireChatTokenizer();
        var messages = ParseMessages(body);
        string prompt;
        int[] ids;
        try
        {
            (prompt, ids) = tokenizer.ApplyChatTemplate(messages, addGenerationPrompt: true);
        }
        catch (ChatTemplateException e)
        {
            throw ApiException.Invalid($"the chat template cannot render these messages: {e.Message}", "messages");
        }

        bool logprobs = JsonFields.Bool(body, "logprobs") ?? false;
        int top = (int?)JsonFields.Integer(body, "top_logprobs", 0, 20) ?? 0;
        if (top > 0 && !logprobs)
        {
            throw ApiException.Invalid("'top_logprobs' needs 'logprobs': true", "top_logprobs");
        }

        long? maxTokens = JsonFields.Integer(body, "max_completion_tokens", long.MinValue, long.MaxValue)
            ?? JsonFields.Integer(body, "max_tokens", long.MinValue, long.MaxValue);
        bool thinking = prompt.TrimEnd().EndsWith(ReasoningSplitter.OpenTag, StringComparison.Ordinal);
        return Build(body, ids, maxTokens, logprobs ? top : -1, thinking);
    }

    /// <summary>POST /v1/completions.</summary>
    public GenerationJob ParseCompletion(JsonElement body)
    {
        RequireObject(body);
        CheckModel(body);
        int[] ids = ParsePrompt(body);
        int top = (int?)JsonFields.Integer(body, "logprobs", 0, 20) ?? -1;
        if (JsonFields.Bool(body, "echo") == true)
        {
            throw ApiException.Invalid("'echo' is not supported", "echo");
        }

        return Build(body, ids, JsonFields.Integer(body, "max_tokens", long.MinValue, long.MaxValue), top, thinking: false);
    }

    /// <summary>POST /generate (raw prompt) and POST /chat (the prompt as one user message): {"prompt": ...} plus optional sampling fields.</summary>
    public GenerationJob ParseSimple(JsonElement body, bool chat)
    {
        RequireObject(body);
        if (JsonFields.Get(body, "prompt") is not { ValueKind: JsonValueKind.String } p)
        {
            throw ApiException.Invalid("'prompt' is required and must be a string", "prompt");
        }

        string text = p.GetString()!;
        int[] ids;
        bool thinking = false;
        if (chat)
        {
            var (prompt, chatIds) = RequireChatTokenizer().ApplyChatTemplate([ChatMessage.User(text)], addGenerationPrompt: true);
            ids = chatIds;
            thinking = prompt.TrimEnd().EndsWith(ReasoningSplitter.OpenTag, StringComparison.Ordinal);
        }
        else
        {
            ids = RequireTokenizer("prompt").Encode(text);
        }

        var job = Build(body, ids, JsonFields.Integer(body, "max_tokens", long.MinValue, long.MaxValue), -1, thinking);
        return job with { Stream = false, N = 1 };
    }

    private GenerationJob Build(JsonElement body, int[] prompt, long? maxTokens, int topLogprobs, bool thinking)
    {
        if (prompt.Length == 0)
        {
            throw ApiException.Invalid("the prompt is empty", "prompt");
        }

        if (prompt.Length >= MaxContext)
        {
            throw ApiException.Invalid(
                $"the prompt has {prompt.Length} tokens but the context holds {MaxContext} (prompt and completion together); shorten it",
                "messages",
                "context_length_exceeded");
        }

        int room = MaxContext - prompt.Length;
        if (maxTokens is { } m && (m < 1 || m > room))
        {
            throw ApiException.Invalid(
                m < 1 ? $"'max_tokens' must be ≥ 1 (got {m})" : $"'max_tokens' is {m} but the prompt has {prompt.Length} tokens and the context holds {MaxContext}: at most {room} can be generated",
                "max_tokens",
                m < 1 ? null : "context_length_exceeded");
        }

        var sampling = new SamplingParams
        {
            Temperature = (float)(JsonFields.Number(body, "temperature", 0, 2) ?? 1),
            TopP = (float)(JsonFields.Number(body, "top_p", double.Epsilon, 1) ?? 1),
            TopK = (int)Math.Max(0, JsonFields.Integer(body, "top_k", -1, int.MaxValue) ?? 0),
            MinP = (float)(JsonFields.Number(body, "min_p", 0, 1) ?? 0),
            PresencePenalty = (float)(JsonFields.Number(body, "presence_penalty", -2, 2) ?? 0),
            FrequencyPenalty = (float)(JsonFields.Number(body, "frequency_penalty", -2, 2) ?? 0),
            RepetitionPenalty = (float)(JsonFields.Number(body, "repetition_penalty", 1e-3, 100) ?? 1),
            Seed = JsonFields.Integer(body, "seed", long.MinValue, long.MaxValue) is { } seed ? unchecked((ulong)seed) : null,
        };
        var stop = new StopConditions
        {
            MaxTokens = (int)(maxTokens ?? room),
            StopStrings = ParseStop(body),
            StopTokenIds = ParseIds(body, "stop_token_ids", allowEmpty: true),
            IgnoreEos = JsonFields.Bool(body, "ignore_eos") ?? false,
        };
        var streamOptions = JsonFields.Object(body, "stream_options");
        return new GenerationJob(
            prompt,
            sampling,
            stop,
            (int)(JsonFields.Integer(body, "n", 1, MaxChoices) ?? 1),
            topLogprobs,
            JsonFields.Bool(body, "stream") ?? false,
            streamOptions is { } so && (JsonFields.Bool(so, "include_usage") ?? false),
            thinking,
            JsonFields.Bool(body, "return_token_ids") ?? false);
    }

    private int[] ParsePrompt(JsonElement body)
    {
        if (JsonFields.Get(body, "prompt") is not { } p)
        {
            throw ApiException.Invalid("'prompt' is required", "prompt");
        }

        switch (p.ValueKind)
        {
            case JsonValueKind.String:
                return RequireTokenizer("prompt").Encode(p.GetString()!);
            case JsonValueKind.Array when p.GetArrayLength() == 0:
                throw ApiException.Invalid("'prompt' is empty", "prompt");
            case JsonValueKind.Array when p[0].ValueKind == JsonValueKind.Number:
                return ParseIds(body, "prompt", allowEmpty: false);
            case JsonValueKind.Array when p.GetArrayLength() == 1 && p[0].ValueKind == JsonValueKind.String:
                return RequireTokenizer("prompt").Encode(p[0].GetString()!);
            case JsonValueKind.Array when p.GetArrayLength() == 1 && p[0].ValueKind == JsonValueKind.Array:
                return ReadIds(p[0], "prompt", allowEmpty: false);
            case JsonValueKind.Array:
                throw ApiException.Invalid("'prompt' must be one prompt (a string or an array of token ids); send several prompts as several requests", "prompt");
            default:
                throw JsonFields.WrongType("prompt", "a string or an array of token ids", p);
        }
    }

    private int[] ParseIds(JsonElement body, string name, bool allowEmpty) =>
        JsonFields.Get(body, name) is { } v ? ReadIds(v, name, allowEmpty) : [];

    private int[] ReadIds(JsonElement v, string name, bool allowEmpty)
    {
        if (v.ValueKind != JsonValueKind.Array)
        {
            throw JsonFields.WrongType(name, "an array of token ids", v);
        }

        var ids = new int[v.GetArrayLength()];
        int vocab = model.Scheduler.VocabSize, i = 0;
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id) || id < 0 || id >= vocab)
            {
                throw ApiException.Invalid($"'{name}' must hold token ids in [0, {vocab}) (got {item.GetRawText()})", name);
            }

            ids[i++] = id;
        }

        return ids.Length > 0 || allowEmpty ? ids : throw ApiException.Invalid($"'{name}' is empty", name);
    }

    private static string[] ParseStop(JsonElement body)
    {
        if (JsonFields.Get(body, "stop") is not { } v)
        {
            return [];
        }

        string[] stops = v.ValueKind switch
        {
            JsonValueKind.String => [v.GetString()!],
            JsonValueKind.Array when v.GetArrayLength() <= MaxStopStrings => [.. v.EnumerateArray().Select(s => s.ValueKind == JsonValueKind.String ? s.GetString()! : throw JsonFields.WrongType("stop", "a string or an array of strings", s))],
            JsonValueKind.Array => throw ApiException.Invalid($"'stop' holds at most {MaxStopStrings} strings", "stop"),
            _ => throw JsonFields.WrongType("stop", "a string or an array of strings", v),
        };
        return stops.Any(string.IsNullOrEmpty) ? throw ApiException.Invalid("'stop' strings must not be empty", "stop") : stops;
    }

    private static List<ChatMessage> ParseMessages(JsonElement body)
    {
        if (JsonFields.Get(body, "messages") is not { } list)
        {
            throw ApiException.Invalid("'messages' is required", "messages");
        }

        if (list.ValueKind != JsonValueKind.Array)
        {
            throw JsonFields.WrongType("messages", "an array", list);
        }

        if (list.GetArrayLength() == 0)
        {
            throw ApiException.Invalid("'messages' is empty: at least one message is needed", "messages");
        }

        var messages = new List<ChatMessage>();
        int index = 0;
        foreach (var m in list.EnumerateArray())
        {
            string at = $"messages[{index++}]";
            if (m.ValueKind != JsonValueKind.Object)
            {
                throw JsonFields.WrongType(at, "an object", m);
            }

            string role = JsonFields.String(m, "role") ?? throw ApiException.Invalid($"'{at}.role' is required", $"{at}.role");
            role = role switch
            {
                "system" or "developer" => "system",
                "user" or "assistant" or "tool" => role,
                _ => throw ApiException.Invalid($"'{at}.role' must be system, developer, user, assistant or tool (got '{role}')", $"{at}.role"),
            };
            string? content = ParseContent(m, at);
            var toolCalls = ParseToolCalls(m, at);
            if (content is null && toolCalls is null)
            {
                throw ApiException.Invalid($"'{at}.content' is required", $"{at}.content");
            }

            messages.Add(new ChatMessage(role, content)
            {
                ToolCalls = toolCalls,
                ToolCallId = JsonFields.String(m, "tool_call_id"),
                Name = JsonFields.String(m, "name"),
            });
        }

        return messages;
    }

    private static string? ParseContent(JsonElement m, string at)
    {
        if (JsonFields.Get(m, "content") is not { } c)
        {
            return null;
        }

        if (c.ValueKind == JsonValueKind.String)
        {
            return c.GetString();
        }

        if (c.ValueKind != JsonValueKind.Array)
        {
            throw JsonFields.WrongType($"{at}.content", "a string or an array of text parts", c);
        }

        var text = new System.Text.StringBuilder();
        foreach (var part in c.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || JsonFields.String(part, "type") != "text" || JsonFields.String(part, "text") is not { } t)
            {
                throw ApiException.Invalid($"'{at}.content' parts must be {{\"type\":\"text\",\"text\":...}} (this model reads text only)", $"{at}.content");
            }

            text.Append(t);
        }

        return text.ToString();
    }

    private static List<ToolCall>? ParseToolCalls(JsonElement m, string at)
    {
        if (JsonFields.Get(m, "tool_calls") is not { } calls)
        {
            return null;
        }

        if (calls.ValueKind != JsonValueKind.Array)
        {
            throw JsonFields.WrongType($"{at}.tool_calls", "an array", calls);
        }

        var result = new List<ToolCall>();
        foreach (var call in calls.EnumerateArray())
        {
            if (call.ValueKind != JsonValueKind.Object || JsonFields.Object(call, "function") is not { } f || JsonFields.String(f, "name") is not { } name)
            {
                throw ApiException.Invalid($"'{at}.tool_calls' entries need a function with a name", $"{at}.tool_calls");
            }

            result.Add(ToolCall.Function(name, JsonFields.String(f, "arguments") ?? "{}", JsonFields.String(call, "id")));
        }

        return result;
    }

    private static void RequireObject(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.Invalid("the request body must be a JSON object");
        }
    }

    private void CheckModel(JsonElement body)
    {
        if (JsonFields.String(body, "model") is { } name && name.Length > 0 && name != model.Name)
        {
            throw ApiException.NotFound($"the model '{name}' does not exist; this server serves '{model.Name}'", "model", "model_not_found");
        }
    }

    private TextTokenizer RequireTokenizer(string param) => model.Tokenizer
        ?? throw ApiException.Invalid("this model has no tokenizer: send the prompt as token ids", param);

    private TextTokenizer RequireChatTokenizer()
    {
        var tokenizer = RequireTokenizer("messages");
        return tokenizer.ChatTemplate is null ? throw ApiException.Invalid("this model has no chat template: use /v1/completions", "messages") : tokenizer;
    }
}
