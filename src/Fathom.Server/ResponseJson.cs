using System.Buffers;
using System.Text;
using System.Text.Json;
using Fathom.Engine;
using Fathom.Engine.Serving;

namespace Fathom.Server;

/// <summary>The JSON bodies of responses and stream chunks, in OpenAI's (and DeepSeek's) shapes.</summary>
internal sealed class ResponseJson(ServedModel model, ApiFlavor flavor, string id, long created, bool returnTokenIds)
{
    public static string FinishName(RequestCompletion c) => c.FinishReason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => "abort",
    };

    /// <summary>The whole non-streaming response.</summary>
    public byte[] Full(IReadOnlyList<ChoiceState> choices)
    {
        return Write(w =>
        {
            if (flavor == ApiFlavor.Simple)
            {
                var c = choices[0];
                w.WriteString("text", c.Content.ToString());
                if (c.Reasoning.Length > 0)
                {
                    w.WriteString("reasoning_content", c.Reasoning.ToString());
                }

                w.WriteString("finish_reason", FinishName(c.Completion!));
                WriteUsage(w, choices);
                return;
            }

            Header(w, chunk: false);
            w.WriteStartArray("choices");
            foreach (var c in choices)
            {
                w.WriteStartObject();
                w.WriteNumber("index", c.Index);
                if (flavor == ApiFlavor.Chat)
                {
                    w.WriteStartObject("message");
                    w.WriteString("role", "assistant");
                    w.WriteString("content", c.Content.ToString());
                    if (c.Reasoning.Length > 0)
                    {
                        w.WriteString("reasoning_content", c.Reasoning.ToString());
                    }

                    w.WriteEndObject();
                }
                else
                {
                    w.WriteString("text", c.Content.ToString());
                }

                WriteLogprobs(w, c.Logprobs, c.Completion!.FinishReason);
                w.WriteString("finish_reason", FinishName(c.Completion!));
                if (returnTokenIds)
                {
                    w.WriteStartArray("token_ids");
                    c.TokenIds.ForEach(w.WriteNumberValue);
                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteUsage(w, choices);
        });
    }

    /// <summary>A stream chunk carrying new text of one choice (and its finish reason on the last one).</summary>
    public byte[] Chunk(ChoiceState c, string reasoning, string content, RequestEvent? token, bool first, RequestCompletion? finish)
    {
        return Write(w =>
        {
            Header(w, chunk: true);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", c.Index);
            if (flavor == ApiFlavor.Chat)
            {
                w.WriteStartObject("delta");
                if (first)
                {
                    w.WriteString("role", "assistant");
                }

                if (reasoning.Length > 0)
                {
                    w.WriteString("reasoning_content", reasoning);
                }

                if (content.Length > 0 || (first && reasoning.Length == 0 && finish is null))
                {
                    w.WriteString("content", content);
                }

                w.WriteEndObject();
            }
            else
            {
                w.WriteString("text", reasoning + content);
            }

            if (token?.Logprob is { } lp)
            {
                WriteLogprobs(w, [lp], null);
            }
            else
            {
                w.WriteNull("logprobs");
            }

            if (finish is null)
            {
                w.WriteNull("finish_reason");
            }
            else
            {
                w.WriteString("finish_reason", FinishName(finish));
            }

            if (returnTokenIds && token is { Id: >= 0 })
            {
                w.WriteStartArray("token_ids");
                w.WriteNumberValue(token.Id);
                w.WriteEndArray();
            }

            w.WriteEndObject();
            w.WriteEndArray();
        });
    }

    /// <summary>The last chunk of a stream with stream_options.include_usage: no choices, the usage.</summary>
    public byte[] UsageChunk(IReadOnlyList<ChoiceState> choices) => Write(w =>
    {
        Header(w, chunk: true);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        WriteUsage(w, choices);
    });

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private void Header(Utf8JsonWriter w, bool chunk)
    {
        w.WriteString("id", id);
        w.WriteString("object", flavor == ApiFlavor.Chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion");
        w.WriteNumber("created", created);
        w.WriteString("model", model.Name);
    }

    private static void WriteUsage(Utf8JsonWriter w, IReadOnlyList<ChoiceState> choices)
    {
        int prompt = choices[0].Completion?.PromptTokens ?? 0;
        int completion = choices.Sum(c => c.Completion?.CompletionTokens ?? c.TokenIds.Count);
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", choices[0].Completion?.CachedPromptTokens ?? 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private void WriteLogprobs(Utf8JsonWriter w, IReadOnlyList<TokenLogprob> logprobs, FinishReason? _)
    {
        if (logprobs.Count == 0)
        {
            w.WriteNull("logprobs");
            return;
        }

        w.WriteStartObject("logprobs");
        if (flavor == ApiFlavor.Chat)
        {
            w.WriteStartArray("content");
            foreach (var lp in logprobs)
            {
                w.WriteStartObject();
                WriteToken(w, lp.Id, lp.Logprob);
                w.WriteStartArray("top_logprobs");
                foreach (var (topId, topLogprob) in lp.Top)
                {
                    w.WriteStartObject();
                    WriteToken(w, topId, topLogprob);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }
        else
        {
            w.WriteStartArray("tokens");
            logprobs.ToList().ForEach(lp => w.WriteStringValue(TokenText(lp.Id)));
            w.WriteEndArray();
            w.WriteStartArray("token_logprobs");
            logprobs.ToList().ForEach(lp => w.WriteNumberValue(lp.Logprob));
            w.WriteEndArray();
            w.WriteStartArray("top_logprobs");
            foreach (var lp in logprobs)
            {
                w.WriteStartObject();
                foreach (var (topId, topLogprob) in lp.Top)
                {
                    w.WriteNumber(TokenText(topId), topLogprob);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    private void WriteToken(Utf8JsonWriter w, int tokenId, float logprob)
    {
        string text = TokenText(tokenId);
        w.WriteString("token", text);
        w.WriteNumber("logprob", logprob);
        w.WriteStartArray("bytes");
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            w.WriteNumberValue(b);
        }

        w.WriteEndArray();
    }

    private string TokenText(int tokenId) => model.Tokenizer is { } t ? t.Decode([tokenId]) : $"token_id:{tokenId}";
}
