using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Fathom.Server.Tests;

/// <summary>The paged cache seen from outside: cancelled streams give their pages back, shared prompts are served from the prefix cache.</summary>
[Collection(ServerTestCollection.Name)]
public sealed class KvCacheServingTests
{
    [Fact]
    public async Task CancelledStreamFreesItsPages()
    {
        await using var server = await TestServer.StartAsync(slow: true);
        double baseline = await server.MetricAsync("fathom_kv_pages_used");
        using var cancel = new CancellationTokenSource();
        var body = JsonSerializer.Serialize(new { prompt = Enumerable.Range(10, 40).ToArray(), max_tokens = 400, temperature = 0, ignore_eos = true, stream = true });
        // No draining of the unread response on disposal: the connection closes, as when a client dies.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0, ResponseDrainTimeout = TimeSpan.Zero }) { BaseAddress = server.BaseAddress };
        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") })
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
            for (int chunks = 0; chunks < 3;)
            {
                string? line = await reader.ReadLineAsync(cancel.Token);
                Assert.NotNull(line);
                chunks += line.StartsWith("data: ", StringComparison.Ordinal) ? 1 : 0;
            }

            Assert.True(await server.MetricAsync("fathom_kv_pages_used") > baseline, "a running stream holds pages");
            await cancel.CancelAsync();   // the client goes away mid-stream
        }

        var deadline = Stopwatch.StartNew();
        while (await server.MetricAsync("fathom_kv_pages_used") != baseline
            || await server.MetricAsync("fathom_requests_total{outcome=\"cancelled\"}") != 1)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "pages not freed after the stream was cancelled: " + await server.Http.GetStringAsync("metrics"));
            await Task.Delay(20);
        }

        Assert.Equal(0, await server.MetricAsync("fathom_requests_running"));
        Assert.True(await server.MetricAsync("fathom_generation_tokens_total") < 400, "generation stopped with the client");
        Assert.Equal(200, (int)(await server.Http.GetAsync("health")).StatusCode);
    }

    [Fact]
    public async Task RepeatedLongSystemPromptIsServedFromThePrefixCache()
    {
        await using var server = await TestServer.StartAsync();
        string System(int variant) => $"[{variant}] " + string.Concat(Enumerable.Repeat("You are a careful assistant who answers briefly. ", 9));
        async Task<(double Ttft, int Cached)> AskAsync(string system, string question)
        {
            var body = new
            {
                messages = new object[] { new { role = "system", content = system }, new { role = "user", content = question } },
                max_tokens = 2,
                temperature = 0,
                stream = true,
                stream_options = new { include_usage = true },
            };
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
            var started = Stopwatch.StartNew();
            using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            double ttft = -1;
            int cached = -1;
            while (await reader.ReadLineAsync() is { } line)
            {
                if (!line.StartsWith("data: {", StringComparison.Ordinal))
                {
                    continue;
                }

                ttft = ttft < 0 ? started.Elapsed.TotalSeconds : ttft;
                using var chunk = JsonDocument.Parse(line[6..]);
                if (chunk.RootElement.TryGetProperty("usage", out var usage))
                {
                    cached = usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
                }
            }

            return (ttft, cached);
        }

        // Warm up the process (JIT, buffers) on an unrelated prompt.
        await AskAsync(System(99), "warm up");

        var cold = new List<double>();
        var warm = new List<double>();
        // Five pairs, compared by their medians, so that one slow step on a busy machine does not decide it.
        for (int i = 0; i < 5; i++)
        {
            var first = await AskAsync(System(i), "What is a wave?");
            Assert.Equal(0, first.Cached);
            cold.Add(first.Ttft);
            double rateBefore = await server.MetricAsync("fathom_prefix_cache_hit_rate");
            var again = await AskAsync(System(i), "And a tide?");
            Assert.True(again.Cached >= 400, $"the system prompt ({again.Cached} cached tokens) came from the prefix cache");
            Assert.True(await server.MetricAsync("fathom_prefix_cache_hit_rate") > rateBefore, "the hit rate rises");
            warm.Add(again.Ttft);
        }

        cold.Sort();
        warm.Sort();
        Assert.True(warm[2] < cold[2], $"time to first token falls with the prefix cache: median {warm[2] * 1000:F1} ms vs {cold[2] * 1000:F1} ms");
    }
}
