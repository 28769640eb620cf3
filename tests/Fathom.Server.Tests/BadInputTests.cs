using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Fathom.Engine.Serving;
using Xunit;

namespace Fathom.Server.Tests;

/// <summary>Bad requests get their status and an OpenAI-shaped error naming the problem; the server stays up and keeps answering.</summary>
[Collection(ServerTestCollection.Name)]
public sealed class BadInputTests
{
    private const string Hello = """{"role":"user","content":"hello"}""";

    public static TheoryData<string, string, int, string?, string> Cases => new()
    {
        { "v1/chat/completions", "{\"messages\": \"hello\"}", 400, "messages", "must be an array" },
        { "v1/chat/completions", $"{{\"messages\":[{Hello}],\"temperature\":\"hot\"}}", 400, "temperature", "must be a number" },
        { "v1/chat/completions", $"{{\"messages\":[{Hello}],\"temperature\":7}}", 400, "temperature", "must be in [0, 2]" },
        { "v1/chat/completions", $"{{\"messages\":[{Hello}],\"max_tokens\":-5}}", 400, "max_tokens", "must be ≥ 1" },
        { "v1/chat/completions", $"{{\"messages\":[{Hello}],\"max_tokens\":1000000000000}}", 400, "max_tokens", "at most" },
        { "v1/chat/completions", $"{{\"messages\":[{Hello}],\"max_tokens\":1e400}}", 400, "max_tokens", "must be" },
        { "v1/chat/completions", $"{{\"messages\":[{Hello}],\"max_tokens\":2.5}}", 400, "max_tokens", "must be an integer" },
        { "v1/chat/completions", $"{{\"messages\":[{Hello}],\"n\":0}}", 400, "n", "must be in [1, 16]" },
        { "v1/chat/completions", $"{{\"messages\":[{Hello}],\"stop\":[1,2]}}", 400, "stop", "a string or an array of strings" },
        { "v1/chat/completions", $"{{\"messages\":[{Hello}],\"top_logprobs\":3}}", 400, "top_logprobs", "needs 'logprobs'" },
        { "v1/chat/completions", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", 400, "messages[0].role", "must be system" },
        { "v1/chat/completions", "{\"messages\":[{\"role\":\"user\"}]}", 400, "messages[0].content", "is required" },
        { "v1/chat/completions", "{\"messages\":[]}", 400, "messages", "is empty" },
        { "v1/chat/completions", "{}", 400, "messages", "is required" },
        { "v1/chat/completions", "[1,2,3]", 400, null, "must be a JSON object" },
        { "v1/chat/completions", "{\"messages\": [", 400, null, "not valid JSON" },
        { "v1/chat/completions", $"{{\"model\":\"gpt-9\",\"messages\":[{Hello}]}}", 404, "model", "does not exist" },
        { "v1/completions", "{\"prompt\": 42}", 400, "prompt", "a string or an array of token ids" },
        { "v1/completions", "{\"prompt\": [1, 99999]}", 400, "prompt", "token ids in [0, 512)" },
        { "v1/completions", "{\"prompt\": [1, -1]}", 400, "prompt", "token ids in [0, 512)" },
        { "v1/completions", "{\"prompt\": []}", 400, "prompt", "is empty" },
        { "generate", "{\"text\": \"hi\"}", 400, "prompt", "is required" },
        { "v1/nothing", "{}", 404, null, "no route" },
        { "health", "{}", 405, null, "/health takes GET, not POST" },
        { "v1/models/some-model", "{}", 405, null, "takes GET, not POST" },
    };

    [Fact]
    public async Task EachBadRequestGetsItsStatusAndMessageAndTheServerStaysUp()
    {
        await using var server = await TestServer.StartAsync();
        foreach (var row in Cases)
        {
            string path = (string)row[0], body = (string)row[1], param = (string?)row[3] ?? string.Empty, message = (string)row[4];
            int status = (int)row[2];
            using var response = await server.PostJsonAsync(path, body);
            await AssertErrorAsync(response, status, row[3] as string, message, $"{path} {body}");
            _ = param;
        }

        // A known route with the wrong method is 405 with the method it takes; an unknown one stays 404.
        using (var response = await server.Http.GetAsync("v1/chat/completions"))
        {
            await AssertErrorAsync(response, 405, null, "/v1/chat/completions takes POST, not GET", "GET v1/chat/completions");
            Assert.Contains("POST", response.Content.Headers.Allow);
        }

        using (var response = await server.Http.GetAsync("v1/chat"))
        {
            await AssertErrorAsync(response, 404, null, "no route GET /v1/chat", "GET v1/chat");
        }

        await AssertStillServesAsync(server);
    }

    [Fact]
    public async Task InvalidUtf8OverLongPromptAndHugeBodyAreRefused()
    {
        await using var server = await TestServer.StartAsync(maxBodyBytes: 8L << 20);
        byte[] invalid = [.. "{\"messages\":[{\"role\":\"user\",\"content\":\""u8.ToArray(), 0xC3, 0x28, 0xFF, .. "\"}]}"u8.ToArray()];
        using (var content = new ByteArrayContent(invalid))
        {
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await server.Http.PostAsync("v1/chat/completions", content);
            await AssertErrorAsync(response, 400, null, "not valid JSON", "invalid UTF-8");
        }

        string longText = new('a', 600);   // 600 byte tokens, beyond the tiny model's 512 positions
        using (var response = await server.PostJsonAsync("v1/chat/completions", JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = longText } } })))
        {
            var error = await AssertErrorAsync(response, 400, "messages", "context holds 512", "over-long prompt");
            Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        }

        string huge = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('x', 20 << 20) + "\"}]}";
        // Expect: 100-continue, as curl sends for large bodies: the refusal arrives before the body is sent.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(huge, Encoding.UTF8, "application/json") })
        {
            request.Headers.ExpectContinue = true;
            using var response = await server.Http.SendAsync(request);
            await AssertErrorAsync(response, 413, null, "larger than", "20 MB body");
        }

        await AssertStillServesAsync(server);
    }

    [Fact]
    public async Task MissingOrWrongKeyIs401AndTheRightKeyWorks()
    {
        await using var server = await TestServer.StartAsync(apiKey: "sesame");
        using var anonymous = new HttpClient { BaseAddress = server.BaseAddress };
        using (var response = await anonymous.PostAsync("v1/chat/completions", new StringContent($"{{\"messages\":[{Hello}]}}", Encoding.UTF8, "application/json")))
        {
            await AssertErrorAsync(response, 401, null, "API key", "missing key");
        }

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        using (var response = await anonymous.GetAsync("v1/models"))
        {
            await AssertErrorAsync(response, 401, null, "API key", "wrong key");
        }

        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("health")).StatusCode);
        await AssertStillServesAsync(server);
    }

    [Fact]
    public async Task FloodBeyondMaxWaitingIs429AndTheQueueRecovers()
    {
        await using var server = await TestServer.StartAsync(new EngineOptions { MaxBatch = 1, MaxWaiting = 1, KvCacheBytes = 16L << 20 }, slow: true);
        using var cancel = new CancellationTokenSource();
        string Long(int first) => JsonSerializer.Serialize(new { prompt = new[] { first, 5, 6 }, max_tokens = 300, temperature = 0, ignore_eos = true, stream = true });

        // One request runs (the batch holds one), one waits (the queue holds one): the next is refused.
        using var running = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(Long(7), Encoding.UTF8, "application/json") };
        using var runningResponse = await server.Http.SendAsync(running, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        var waiting = server.PostJsonAsync("v1/completions", Long(8), cancel.Token);
        while (await server.MetricAsync("fathom_requests_waiting") < 1)
        {
            await Task.Delay(10);
        }

        var flood = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => server.PostJsonAsync("v1/completions", Long(9))));
        foreach (var response in flood)
        {
            await AssertErrorAsync(response, 429, null, "too many requests are waiting", "flood");
            response.Dispose();
        }

        Assert.Equal(5, await server.MetricAsync("fathom_requests_total{outcome=\"rejected\"}"));
        await cancel.CancelAsync();
        runningResponse.Dispose();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (await server.MetricAsync("fathom_requests_waiting") + await server.MetricAsync("fathom_requests_running") > 0)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the queue did not drain after its clients left");
            await Task.Delay(20);
        }

        await AssertStillServesAsync(server);
    }

    private static async Task AssertStillServesAsync(TestServer server)
    {
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("health")).StatusCode);
        using var ok = await server.PostJsonAsync("v1/chat/completions", $"{{\"messages\":[{Hello}],\"max_tokens\":3,\"temperature\":0}}");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    private static async Task<JsonElement> AssertErrorAsync(HttpResponseMessage response, int status, string? param, string message, string what)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"{what}: expected {status}, got {(int)response.StatusCode}: {text}");
        using var doc = JsonDocument.Parse(text);
        var error = doc.RootElement.GetProperty("error").Clone();
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("code", out _), $"{what}: error has a code field");
        if (param is null)
        {
            Assert.True(error.TryGetProperty("param", out _), $"{what}: error has a param field");
        }
        else
        {
            Assert.Equal(param, error.GetProperty("param").GetString());
        }

        return error;
    }
}
