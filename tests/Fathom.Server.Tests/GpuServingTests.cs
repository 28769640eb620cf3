using System.ClientModel;
using System.Text;
using System.Text.Json;
using Fathom.Engine.Serving;
using Fathom.TestSupport;
using OpenAI;
using OpenAI.Chat;
using Xunit;

namespace Fathom.Server.Tests;

/// <summary>
/// The server on the GPU (scheduler pages in the device latent cache), through the official OpenAI client:
/// greedy answers equal `fathom generate --device cuda`, concurrent requests equal their solo answers, and a
/// repeated long prefix is served from cached device pages with the same answer as a cold run.
/// </summary>
[Collection(ServerTestCollection.Name)]
public sealed class GpuServingTests
{
    private static ChatClient Client(TestServer server) =>
        new(TestServer.ModelName, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1") });

    [CudaFact]
    public async Task ServingOnTheGpuEqualsGenerateBatchesAndReusesCachedPages()
    {
        await using var server = await TestServer.StartAsync(new EngineOptions { MaxBatch = 8, KvCacheBytes = 16L << 20 }, gpu: true);
        Assert.StartsWith("cuda", server.Device, StringComparison.Ordinal);
        var client = Client(server);

        // Greedy chat, streamed and not, equals the CLI on the GPU.
        string prompt = "Tell me about the sea.";
        var expected = Generate.Run("--model", server.ModelDirectory, "--device", "cuda", "--chat", prompt, "--temperature", "0", "--max-tokens", "24");
        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage(prompt)], new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 });
        Assert.Equal(expected.Text, completion.Content.Count == 0 ? string.Empty : completion.Content[0].Text);
        Assert.Equal(expected.Ids.Length, completion.Usage.OutputTokenCount);
        var streamed = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(prompt)], new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 }))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }

        Assert.Equal(expected.Text, streamed.ToString());

        // Eight concurrent greedy requests (mixed prefill and decode steps) each equal their solo answer.
        var prompts = Enumerable.Range(0, 8).Select(i => Enumerable.Range(0, 3 + (i * 7 % 29)).Select(t => 4 + (((t * 31) + (i * 17)) % 250)).ToArray()).ToArray();
        object Body(int[] p) => new { prompt = p, max_tokens = 12, temperature = 0, ignore_eos = true, return_token_ids = true };
        var solo = new List<int[]>();
        foreach (var p in prompts)
        {
            solo.Add(await GreedyEquivalenceTests.CompletionIdsAsync(server, Body(p)));
        }

        var together = await Task.WhenAll(prompts.Select(p => GreedyEquivalenceTests.CompletionIdsAsync(server, Body(p))));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(solo[i], together[i]);
        }

        // A long shared prefix: the second request takes its full pages from the prefix cache, and its
        // answer equals the CLI's cold run of the same prompt.
        int[] shared = [.. Enumerable.Range(0, 200).Select(t => 4 + ((t * 37) % 240))];
        int[] firstPrompt = [.. shared, 11, 12, 13], secondPrompt = [.. shared, 21, 22];
        var (_, firstCached) = await CompletionAsync(server, firstPrompt);
        Assert.Equal(0, firstCached);
        var (ids, cached) = await CompletionAsync(server, secondPrompt);
        Assert.True(cached >= 192, $"the shared prefix came from the prefix cache ({cached} cached tokens)");
        var cold = Generate.Run("--model", server.ModelDirectory, "--device", "cuda", "--prompt-ids", JsonSerializer.Serialize(secondPrompt), "--temperature", "0", "--max-tokens", "10", "--ignore-eos");
        Assert.Equal(cold.Ids, ids);
    }

    [CudaFact]
    public async Task LogprobsFromGpuCandidatesEqualTheCpuServers()
    {
        // Greedy with top_logprobs: the GPU step returns only each row's best logits and their log-sum-exp.
        object Body() => new { messages = new[] { new { role = "user", content = "Name three colours." } }, temperature = 0, max_tokens = 12, logprobs = true, top_logprobs = 4 };
        async Task<JsonElement[]> TokensAsync(TestServer server)
        {
            using var response = await server.PostJsonAsync("v1/chat/completions", Body());
            string text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, text);
            using var doc = JsonDocument.Parse(text);
            return [.. doc.RootElement.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray().Select(e => e.Clone())];
        }

        JsonElement[] gpu, cpu;
        await using (var server = await TestServer.StartAsync(new EngineOptions { MaxBatch = 4, KvCacheBytes = 16L << 20 }, gpu: true))
        {
            gpu = await TokensAsync(server);
        }

        await using (var server = await TestServer.StartAsync(new EngineOptions { MaxBatch = 4, KvCacheBytes = 16L << 20 }))
        {
            cpu = await TokensAsync(server);
        }

        Assert.Equal(cpu.Length, gpu.Length);
        for (int t = 0; t < cpu.Length; t++)
        {
            Assert.Equal(cpu[t].GetProperty("token").GetString(), gpu[t].GetProperty("token").GetString());
            Assert.Equal(cpu[t].GetProperty("logprob").GetDouble(), gpu[t].GetProperty("logprob").GetDouble(), 1e-3);
            var (a, b) = (cpu[t].GetProperty("top_logprobs"), gpu[t].GetProperty("top_logprobs"));
            Assert.Equal(4, b.GetArrayLength());
            for (int j = 0; j < 4; j++)
            {
                Assert.Equal(a[j].GetProperty("logprob").GetDouble(), b[j].GetProperty("logprob").GetDouble(), 1e-3);
            }
        }
    }

    private static async Task<(int[] Ids, int Cached)> CompletionAsync(TestServer server, int[] prompt)
    {
        using var response = await server.PostJsonAsync("v1/completions", new { prompt, max_tokens = 10, temperature = 0, ignore_eos = true, return_token_ids = true });
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        using var doc = JsonDocument.Parse(text);
        return (
            [.. doc.RootElement.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32())],
            doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
    }
}
