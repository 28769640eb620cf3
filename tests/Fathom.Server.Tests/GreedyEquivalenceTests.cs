using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using Xunit;

namespace Fathom.Server.Tests;

/// <summary>At temperature 0 the server answers exactly what `fathom generate` answers, streamed or not, and batching changes no answer.</summary>
[Collection(ServerTestCollection.Name)]
public sealed class GreedyEquivalenceTests
{
    private static ChatClient Client(TestServer server) =>
        new(TestServer.ModelName, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1") });

    [Fact]
    public async Task ChatCompletionsStreamedAndNotEqualGenerate()
    {
        await using var server = await TestServer.StartAsync();
        string prompt = "Tell me about the sea.";
        var expected = Generate.Run("--model", server.ModelDirectory, "--chat", prompt, "--temperature", "0", "--max-tokens", "24");
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 };
        var client = Client(server);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage(prompt)], options);
        Assert.Equal(expected.Text, completion.Content.Count == 0 ? string.Empty : completion.Content[0].Text);
        Assert.Equal(expected.Ids.Length, completion.Usage.OutputTokenCount);
        Assert.True(completion.Usage.InputTokenCount > 0);

        var streamed = new StringBuilder();
        int? usageTokens = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(prompt)], new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 }))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }

            usageTokens ??= update.Usage?.OutputTokenCount;
        }

        Assert.Equal(expected.Text, streamed.ToString());
        Assert.Equal(expected.Ids.Length, usageTokens);
    }

    [Fact]
    public async Task CompletionsStreamedAndNotEqualGenerate()
    {
        await using var server = await TestServer.StartAsync();
        int[] prompt = [0, 90, 80, 70, 60, 55, 44, 33, 22];
        var expected = Generate.Run("--model", server.ModelDirectory, "--prompt-ids", JsonSerializer.Serialize(prompt), "--temperature", "0", "--max-tokens", "20", "--ignore-eos");

        var body = new { model = TestServer.ModelName, prompt, max_tokens = 20, temperature = 0, ignore_eos = true, return_token_ids = true };
        using var response = await server.PostJsonAsync("v1/completions", body);
        Assert.Equal(200, (int)response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var choice = doc.RootElement.GetProperty("choices")[0];
        Assert.Equal(expected.Ids, choice.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(expected.Text, choice.GetProperty("text").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(prompt.Length, doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        var (ids, text) = await StreamCompletionAsync(server, new { prompt, max_tokens = 20, temperature = 0, ignore_eos = true, return_token_ids = true, stream = true });
        Assert.Equal(expected.Ids, ids);
        Assert.Equal(expected.Text, text);
    }

    [Fact]
    public async Task SixteenConcurrentGreedyRequestsEachEqualTheirSoloAnswer()
    {
        await using var server = await TestServer.StartAsync(new Engine.Serving.EngineOptions { MaxBatch = 16, KvCacheBytes = 16L << 20 });
        var prompts = Enumerable.Range(0, 16).Select(i => Enumerable.Range(0, 3 + (i * 5 % 23)).Select(t => 4 + ((t * 31) + (i * 17)) % 250).ToArray()).ToArray();
        object Body(int[] p) => new { prompt = p, max_tokens = 12, temperature = 0, ignore_eos = true, return_token_ids = true };

        var solo = new List<int[]>();
        foreach (var p in prompts)
        {
            solo.Add(await CompletionIdsAsync(server, Body(p)));
        }

        var batchSteps = await server.MetricAsync("fathom_batch_size_count");
        var together = await Task.WhenAll(prompts.Select(p => CompletionIdsAsync(server, Body(p))));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(solo[i], together[i]);
        }

        // Batching happened: fewer forward passes than 16 requests × 12 tokens.
        double steps = await server.MetricAsync("fathom_batch_size_count") - batchSteps;
        Assert.True(steps < 16 * 12, $"{steps} forward passes for 16 concurrent requests");
    }

    internal static async Task<int[]> CompletionIdsAsync(TestServer server, object body)
    {
        using var response = await server.PostJsonAsync("v1/completions", body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        using var doc = JsonDocument.Parse(text);
        return [.. doc.RootElement.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32())];
    }

    internal static async Task<(int[] Ids, string Text)> StreamCompletionAsync(TestServer server, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
        using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var ids = new List<int>();
        var text = new StringBuilder();
        bool done = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line == "data: [DONE]")
            {
                done = true;
                continue;
            }

            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            using var chunk = JsonDocument.Parse(line[6..]);
            foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
            {
                text.Append(choice.GetProperty("text").GetString());
                if (choice.TryGetProperty("token_ids", out var t))
                {
                    ids.AddRange(t.EnumerateArray().Select(e => e.GetInt32()));
                }
            }
        }

        Assert.True(done, "the stream ends with [DONE]");
        return ([.. ids], text.ToString());
    }
}
