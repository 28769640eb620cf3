using System.CommandLine;
using System.Globalization;
using Fathom.Engine.Serving;
using Fathom.Server;

namespace Fathom.Cli.Commands;

/// <summary>`fathom serve`: the OpenAI-compatible server with continuous batching over a paged KV cache.</summary>
public static class ServeCommand
{
    public static Command Create(CliConsole console)
    {
        var models = new ModelOptionSet(console);
        var host = new Option<string>("--host") { Description = "Address to listen on (an IP address or localhost).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (0 picks a free one).", DefaultValueFactory = _ => 8000 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on API routes (default: the FATHOM_API_KEY environment variable, else none)." };
        var maxBatch = new Option<int>("--max-batch") { Description = "Sequences run together in one forward pass at most.", DefaultValueFactory = _ => 16 };
        var kvMemory = new Option<string>("--kv-cache-memory") { Description = "Memory for the paged KV cache, e.g. 512MiB, 2GiB, 1G (decides how many tokens all requests together can hold).", DefaultValueFactory = _ => "512MiB" };
        var maxContext = new Option<int>("--max-context") { Description = "Longest request (prompt + completion) in tokens; capped by the model's max_position_embeddings.", DefaultValueFactory = _ => 4096 };
        var maxWaiting = new Option<int>("--max-waiting") { Description = "Requests that may queue for a place in the batch; more get 429.", DefaultValueFactory = _ => 256 };
        var pageSize = new Option<int>("--page-size") { Description = "Tokens per KV cache page (the unit of prefix sharing).", DefaultValueFactory = _ => 16 };
        var noPrefix = new Option<bool>("--no-prefix-cache") { Description = "Do not share computed prompt pages between requests." };
        var name = new Option<string?>("--served-model-name") { Description = "Model name the API reports and accepts (default: the model folder's name)." };
        var command = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models, /health, /metrics, /generate, /chat).")
        {
            host, port, apiKey, maxBatch, kvMemory, maxContext, maxWaiting, pageSize, noPrefix, name,
        };
        models.AddTo(command);
        command.SetAction(result =>
        {
            var engineOptions = new EngineOptions
            {
                MaxBatch = result.GetValue(maxBatch),
                MaxWaiting = result.GetValue(maxWaiting),
                MaxContext = result.GetValue(maxContext),
                PageSize = result.GetValue(pageSize),
                KvCacheBytes = ParseSize(result.GetValue(kvMemory) ?? "512MiB", "--kv-cache-memory"),
                PrefixCaching = !result.GetValue(noPrefix),
            };
            engineOptions.Validate();
            var serverOptions = new ServerOptions
            {
                Host = result.GetValue(host) ?? "127.0.0.1",
                Port = result.GetValue(port) is var p && p is >= 0 and <= 65535 ? p : throw new CliException($"--port must be in [0, 65535] (got {p})"),
                ApiKey = result.GetValue(apiKey) ?? NonEmpty(Environment.GetEnvironmentVariable("FATHOM_API_KEY")),
            };
            // On a GPU the scheduler's pages live in the device latent cache: lay it out to the KV budget and page size.
            var modelOptions = models.Read(result);
            modelOptions = modelOptions with { GpuCache = new GpuCacheLayout(engineOptions.KvCacheBytes, engineOptions.PageSize, Math.Max(256, engineOptions.MaxBatch)) };
            return Run(console, modelOptions, engineOptions, serverOptions, result.GetValue(name));
        });
        return command;
    }

    /// <summary>Parses a byte size: a number with an optional unit (K, M, G, KiB, MiB, GiB; KB/MB/GB are decimal).</summary>
    public static long ParseSize(string text, string option)
    {
        string s = text.Trim();
        int split = 0;
        while (split < s.Length && (char.IsAsciiDigit(s[split]) || s[split] == '.'))
        {
            split++;
        }

        long unit = s[split..].Trim().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KIB" => 1L << 10,
            "M" or "MIB" => 1L << 20,
            "G" or "GIB" => 1L << 30,
            "T" or "TIB" => 1L << 40,
            "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            _ => throw new CliException($"{option}: unknown unit in '{text}' (use e.g. 512MiB, 2GiB, 1G)"),
        };
        if (!double.TryParse(s[..split], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value <= 0 || value * unit > long.MaxValue / 2)
        {
            throw new CliException($"{option}: expected a positive size like 512MiB or 2GiB (got '{text}')");
        }

        return (long)(value * unit);
    }

    private static string? NonEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    private static int Run(CliConsole console, ModelOptions modelOptions, EngineOptions engineOptions, ServerOptions serverOptions, string? servedName)
    {
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;   // shut down in order instead of dying
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        try
        {
            var server = new FathomServer(serverOptions);
            try
            {
                server.StartAsync().GetAwaiter().GetResult();
            }
            catch (IOException e)
            {
                throw new CliException($"cannot listen on {serverOptions.Host}:{serverOptions.Port}: {e.Message}");
            }

            console.Error.WriteLine($"listening on {string.Join(", ", server.Addresses)} (health: /health; loading the model)");
            using var session = ModelSession.Open(modelOptions, needTokenizer: false);
            using var scheduler = new Scheduler(session.Transformer, session.Tokenizer, engineOptions);
            string name = servedName ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(session.Directory)));
            server.SetModel(new ServedModel(name, scheduler, session.Tokenizer));
            console.Error.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"serving '{name}' from {session.Directory} on {session.Transformer.Device}: KV cache {scheduler.KvTokens} tokens ({scheduler.Statistics.PageCount} pages of {scheduler.Statistics.PageSize}, {scheduler.KvBytes / (1024.0 * 1024.0):F0} MiB), max batch {engineOptions.MaxBatch}, max context {scheduler.MaxContext}, prefix cache {(engineOptions.PrefixCaching ? "on" : "off")}{(session.Tokenizer is null ? ", no tokenizer: token-id prompts only" : string.Empty)}{(serverOptions.ApiKey is null ? string.Empty : ", API key required")}"));
            console.Error.WriteLine($"ready on {string.Join(", ", server.Addresses)}; Ctrl+C stops");
            stop.Token.WaitHandle.WaitOne();
            console.Error.WriteLine($"stopping: finishing requests in flight (up to {serverOptions.ShutdownGrace.TotalSeconds:F0} s), then cancelling the rest");
            server.StopAsync().GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            console.Error.WriteLine("stopped");
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
