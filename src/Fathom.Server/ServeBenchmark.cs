using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Fathom.Server;

/// <summary>What a serving benchmark sends: N requests of P random prompt token ids each generating exactly G tokens, C at a time.</summary>
public sealed record ServeBenchmarkSettings(Uri Url, int Concurrency, int Requests, int PromptTokens, int GenTokens, string? ApiKey = null, ulong Seed = 0);

/// <summary>Throughput and latency percentiles of a serving benchmark.</summary>
public sealed record ServeBenchmarkResult(
    int Requests,
    int Failed,
    long OutputTokens,
    double Seconds,
    double OutputTokensPerSecond,
    double RequestsPerSecond,
    double TtftP50,
    double TtftP99,
    double ItlP50,
    double ItlP99);

/// <summary>
/// A load generator for an OpenAI-compatible server: streams /v1/completions with token-id prompts (no
/// tokenizer needed), greedy and ignoring end-of-sequence so every request generates exactly G tokens, and
/// times the first token and the gaps between tokens on the client side.
/// </summary>
public static class ServeBenchmark
{
    public static async Task<ServeBenchmarkResult> RunAsync(ServeBenchmarkSettings s, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(s.Concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(s.Requests, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(s.PromptTokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(s.GenTokens, 1);
        using var client = new HttpClient { BaseAddress = s.Url, Timeout = Timeout.InfiniteTimeSpan };
        if (s.ApiKey is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", s.ApiKey);
        }

        var random = new Random((int)s.Seed);
        var prompts = Enumerable.Range(0, s.Requests)
            .Select(_ => Enumerable.Range(0, s.PromptTokens).Select(_ => random.Next(100, 200)).ToArray())
            .ToArray();
        var ttft = new List<double>();
        var itl = new List<double>();
        long tokens = 0;
        int failed = 0, next = -1;
        var gate = new Lock();
        long start = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, s.Concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < s.Requests)
            {
                var one = await OneAsync(client, prompts[i], s.GenTokens, cancellation).ConfigureAwait(false);
                lock (gate)
                {
                    if (one is null)
                    {
                        failed++;
                        continue;
                    }

                    ttft.Add(one.Value.Ttft);
                    itl.AddRange(one.Value.Gaps);
                    tokens += one.Value.Tokens;
                }
            }
        });
        await Task.WhenAll(workers).ConfigureAwait(false);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return new ServeBenchmarkResult(
            s.Requests,
            failed,
            tokens,
            seconds,
            tokens / seconds,
            (s.Requests - failed) / seconds,
            Percentile(ttft, 0.5),
            Percentile(ttft, 0.99),
            Percentile(itl, 0.5),
            Percentile(itl, 0.99));
    }

    private static async Task<(double Ttft, List<double> Gaps, int Tokens)?> OneAsync(HttpClient client, int[] prompt, int gen, CancellationToken cancellation)
    {
        string body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["prompt"] = prompt,
            ["max_tokens"] = gen,
            ["temperature"] = 0,
            ["ignore_eos"] = true,
            ["stream"] = true,
            ["return_token_ids"] = true,
        });
        long sent = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false));
        double ttft = 0;
        long last = 0;
        int count = 0;
        var gaps = new List<double>(gen);
        while (await reader.ReadLineAsync(cancellation).ConfigureAwait(false) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]")
            {
                continue;
            }

            using var chunk = JsonDocument.Parse(line.AsMemory(6));
            if (!chunk.RootElement.TryGetProperty("choices", out var choices) || choices.GetArrayLength() == 0
                || !choices[0].TryGetProperty("token_ids", out var ids))
            {
                continue;
            }

            long now = Stopwatch.GetTimestamp();
            if (count == 0)
            {
                ttft = Stopwatch.GetElapsedTime(sent, now).TotalSeconds;
            }
            else
            {
                gaps.Add(Stopwatch.GetElapsedTime(last, now).TotalSeconds);
            }

            last = now;
            count += ids.GetArrayLength();
        }

        return (ttft, gaps, count);
    }

    private static double Percentile(List<double> values, double q)
    {
        if (values.Count == 0)
        {
            return 0;
        }

        values.Sort();
        return values[Math.Min(values.Count - 1, (int)Math.Ceiling(q * values.Count) - 1)];
    }
}
