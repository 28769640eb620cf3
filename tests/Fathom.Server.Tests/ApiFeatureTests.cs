using System.ClientModel;
using System.Net;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using Xunit;

namespace Fathom.Server.Tests;

/// <summary>The rest of the API surface: models, health, n, seeds, stop strings, log-probabilities, the simple endpoints, metrics.</summary>
[Collection(ServerTestCollection.Name)]
public sealed class ApiFeatureTests
{
    [Fact]
    public async Task ApiSurfaceAnswersInOpenAiShapes()
    {
        await using var server = await TestServer.StartAsync();
        using (var health = await server.Http.GetAsync("health"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Contains("ready", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var models = JsonDocument.Parse(await server.Http.GetStringAsync("v1/models")))
        {
            Assert.Equal(TestServer.ModelName, models.RootElement.GetProperty("data")[0].GetProperty("id").GetString());
        }

        // n choices with a seed: sampled, reproducible, each its own stream of the same request.
        object Sampled(int n) => new { messages = new[] { new { role = "user", content = "Say something." } }, n, seed = 7, temperature = 1.0, max_tokens = 8, logprobs = true, top_logprobs = 3 };
        using var first = JsonDocument.Parse(await (await server.PostJsonAsync("v1/chat/completions", Sampled(2))).Content.ReadAsStringAsync());
        using var second = JsonDocument.Parse(await (await server.PostJsonAsync("v1/chat/completions", Sampled(2))).Content.ReadAsStringAsync());
        var choices = first.RootElement.GetProperty("choices");
        Assert.Equal(2, choices.GetArrayLength());
        // The second request's prompt comes from the prefix cache (its last token then runs in the absorbed
        // form), so log-probabilities agree to the absorbed-vs-expanded tolerance, the tokens exactly.
        for (int c = 0; c < 2; c++)
        {
            var a = choices[c];
            var b = second.RootElement.GetProperty("choices")[c];
            Assert.Equal(a.GetProperty("message").GetRawText(), b.GetProperty("message").GetRawText());
            var la = a.GetProperty("logprobs").GetProperty("content").EnumerateArray().ToArray();
            var lb = b.GetProperty("logprobs").GetProperty("content").EnumerateArray().ToArray();
            Assert.Equal(la.Select(t => t.GetProperty("token").GetString()), lb.Select(t => t.GetProperty("token").GetString()));
            for (int t = 0; t < la.Length; t++)
            {
                Assert.Equal(la[t].GetProperty("logprob").GetDouble(), lb[t].GetProperty("logprob").GetDouble(), 1e-4);
            }
        }

        var tokens = choices[0].GetProperty("logprobs").GetProperty("content");
        Assert.True(tokens.GetArrayLength() > 0);
        foreach (var token in tokens.EnumerateArray())
        {
            Assert.True(token.GetProperty("logprob").GetDouble() <= 0);
            var top = token.GetProperty("top_logprobs");
            Assert.Equal(3, top.GetArrayLength());
            Assert.True(top[0].GetProperty("logprob").GetDouble() >= top[2].GetProperty("logprob").GetDouble());
        }

        var usage = first.RootElement.GetProperty("usage");
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());

        // A stop string cuts the text before it and finishes with "stop".
        var greedy = Generate.Run("--model", server.ModelDirectory, "--chat", "Hi", "--temperature", "0", "--max-tokens", "12", "--ignore-eos");
        if (greedy.Text.Length > 4)
        {
            string stop = greedy.Text.Substring(3, 2);
            var client = new ChatClient(TestServer.ModelName, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1") });
            var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 };
            options.StopSequences.Add(stop);
            ChatCompletion stopped = await client.CompleteChatAsync([new UserChatMessage("Hi")], options);
            Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
            Assert.Equal(greedy.Text[..greedy.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Content[0].Text);
        }

        // The simple endpoints of deployment guides.
        using (var generate = JsonDocument.Parse(await (await server.PostJsonAsync("generate", new { prompt = "Once", max_tokens = 5, temperature = 0 })).Content.ReadAsStringAsync()))
        {
            var expected = Generate.Run("--model", server.ModelDirectory, "Once", "--temperature", "0", "--max-tokens", "5");
            Assert.Equal(expected.Text, generate.RootElement.GetProperty("text").GetString());
        }

        using (var chat = JsonDocument.Parse(await (await server.PostJsonAsync("chat", new { prompt = "Hi", max_tokens = 12, temperature = 0, ignore_eos = true })).Content.ReadAsStringAsync()))
        {
            Assert.Equal(greedy.Text, chat.RootElement.GetProperty("text").GetString());
        }

        string metrics = await server.Http.GetStringAsync("metrics");
        foreach (string name in new[] { "fathom_requests_total{outcome=\"length\"}", "fathom_time_to_first_token_seconds_count", "fathom_inter_token_latency_seconds_bucket", "fathom_e2e_request_latency_seconds_sum", "fathom_prompt_tokens_total", "fathom_generation_tokens_total", "fathom_requests_running", "fathom_requests_waiting", "fathom_kv_pages_used", "fathom_prefix_cache_hit_rate", "fathom_batch_size_count" })
        {
            Assert.Contains(name, metrics, StringComparison.Ordinal);
        }
    }
}
