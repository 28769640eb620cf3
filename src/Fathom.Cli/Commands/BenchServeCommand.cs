using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Fathom.Engine;
using Fathom.Server;

namespace Fathom.Cli.Commands;

/// <summary>`fathom bench-serve`: load a running server with concurrent streaming requests and report throughput and latency.</summary>
public static class BenchServeCommand
{
    public static Command Create(CliConsole console)
    {
        var url = new Option<string>("--url") { Description = "The server, e.g. http://127.0.0.1:8000.", DefaultValueFactory = _ => "http://127.0.0.1:8000" };
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "Requests in flight at once.", DefaultValueFactory = _ => 1 };
        var requests = new Option<int>("--requests", "-n") { Description = "Requests in all.", DefaultValueFactory = _ => 16 };
        var promptTokens = new Option<int>("--prompt-tokens", "-p") { Description = "Random prompt token ids per request.", DefaultValueFactory = _ => 128 };
        var genTokens = new Option<int>("--gen-tokens", "-g") { Description = "Tokens generated per request (greedy, end-of-sequence ignored).", DefaultValueFactory = _ => 64 };
        var apiKey = new Option<string?>("--api-key") { Description = "Bearer key, when the server needs one." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random prompts.", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON line." };
        var output = new Option<string?>("--output", "-o") { Description = "Also write the result as indented JSON to this file (e.g. benchmarks/results/...)." };
        var command = new Command("bench-serve", "Benchmark a running server: output tokens/s, requests/s, time to first token and inter-token latency (p50, p99).")
        {
            url, concurrency, requests, promptTokens, genTokens, apiKey, seed, json, output,
        };
        command.SetAction(result =>
        {
            string address = result.GetValue(url)!;
            if (!Uri.TryCreate(address.EndsWith('/') ? address : address + "/", UriKind.Absolute, out var uri))
            {
                throw new CliException($"--url must be an absolute URL like http://127.0.0.1:8000 (got '{address}')");
            }

            var settings = new ServeBenchmarkSettings(uri, result.GetValue(concurrency), result.GetValue(requests), result.GetValue(promptTokens), result.GetValue(genTokens), result.GetValue(apiKey), result.GetValue(seed));
            if (settings.Concurrency < 1 || settings.Requests < 1 || settings.PromptTokens < 1 || settings.GenTokens < 1)
            {
                throw new CliException("--concurrency, --requests, --prompt-tokens and --gen-tokens must be ≥ 1");
            }

            string? loadBefore = BenchmarkProcess.LoadAverage();
            ServeBenchmarkResult r;
            try
            {
                r = ServeBenchmark.RunAsync(settings).GetAwaiter().GetResult();
            }
            catch (HttpRequestException e)
            {
                throw new CliException($"cannot reach {uri}: {e.Message}");
            }

            var report = new JsonObject
            {
                ["benchmark"] = "fathom bench-serve",
                ["timestamp"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
                ["url"] = uri.ToString(),
                ["concurrency"] = settings.Concurrency,
                ["requests"] = settings.Requests,
                ["failed"] = r.Failed,
                ["prompt_tokens"] = settings.PromptTokens,
                ["gen_tokens"] = settings.GenTokens,
                ["output_tokens"] = r.OutputTokens,
                ["seconds"] = Math.Round(r.Seconds, 3),
                ["output_tokens_per_second"] = Math.Round(r.OutputTokensPerSecond, 2),
                ["requests_per_second"] = Math.Round(r.RequestsPerSecond, 3),
                ["ttft_p50_ms"] = Math.Round(r.TtftP50 * 1000, 1),
                ["ttft_p99_ms"] = Math.Round(r.TtftP99 * 1000, 1),
                ["itl_p50_ms"] = Math.Round(r.ItlP50 * 1000, 2),
                ["itl_p99_ms"] = Math.Round(r.ItlP99 * 1000, 2),
                ["load_average_before"] = loadBefore,
                ["load_average_after"] = BenchmarkProcess.LoadAverage(),
                ["machine"] = BenchJson.Machine(BenchmarkMachine.Describe()),
            };
            if (result.GetValue(output) is { } file)
            {
                File.WriteAllText(file, report.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + Environment.NewLine);
            }

            if (result.GetValue(json))
            {
                console.Out.WriteLine(report.ToJsonString());
            }
            else
            {
                console.Out.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{settings.Requests} requests ({r.Failed} failed) at concurrency {settings.Concurrency}, {settings.PromptTokens} prompt + {settings.GenTokens} generated tokens each, {r.Seconds:F1} s"));
                console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"output {r.OutputTokensPerSecond:F1} tok/s, {r.RequestsPerSecond:F2} requests/s"));
                console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"time to first token p50 {r.TtftP50 * 1000:F0} ms, p99 {r.TtftP99 * 1000:F0} ms; inter-token latency p50 {r.ItlP50 * 1000:F1} ms, p99 {r.ItlP99 * 1000:F1} ms"));
            }

            return r.Failed == 0 ? 0 : FathomCli.Failure;
        });
        return command;
    }
}
