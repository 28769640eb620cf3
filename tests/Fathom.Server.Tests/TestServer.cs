using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Fathom.Backends.Cpu;
using Fathom.Engine.Serving;
using Fathom.Model;
using Fathom.Server;
using Fathom.Tokenizer;
using Fathom.TestSupport;

namespace Fathom.Server.Tests;

/// <summary>A real Kestrel server on a free loopback port serving the tiny golden model with the byte tokenizer.</summary>
public sealed class TestServer : IAsyncDisposable
{
    public const string ModelName = "tiny-v3";

    private readonly TinyChatModel _files;
    private readonly LoadedModel _model;
    private readonly IDisposable _backend;

    private TestServer(TinyChatModel files, LoadedModel model, IDisposable backend, string device, Scheduler scheduler, FathomServer server, string? apiKey)
    {
        _files = files;
        _model = model;
        _backend = backend;
        Device = device;
        Scheduler = scheduler;
        Server = server;
        BaseAddress = new Uri(server.Addresses[0] + "/");
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (apiKey is not null)
        {
            Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
    }

    public string ModelDirectory => _files.Directory;

    /// <summary>Where the forward pass runs ("cpu", "cuda:0 (...)").</summary>
    public string Device { get; }

    public Scheduler Scheduler { get; }

    public FathomServer Server { get; }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    /// <param name="slow">Run on the reference backend (plain loops) with 10 ms before each step (<see cref="PacedForward"/>), so that generation takes long enough to be interrupted.</param>
    /// <param name="gpu">Run on GPU 0 (float32 activations, as `fathom generate --device cuda`), the KV pages in device memory.</param>
    public static async Task<TestServer> StartAsync(EngineOptions? engine = null, string? apiKey = null, long maxBodyBytes = 8L << 20, bool slow = false, bool gpu = false)
    {
        var files = new TinyChatModel();
        var model = LoadedModel.Load(files.Directory, new LoadOptions());
        engine ??= new EngineOptions { KvCacheBytes = 16L << 20 };
        IForwardPass forward;
        IDisposable backend;
        if (gpu)
        {
            var cuda = new Backends.Cuda.CudaTransformer(model, new Backends.Cuda.CudaOptions
            {
                Bf16Activations = false,
                KvCacheBytes = engine.KvCacheBytes,
                PageTokens = engine.PageSize,
                KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels"),
            });
            (forward, backend) = (cuda, cuda);
        }
        else
        {
            var cpu = slow ? (Core.IBackend)new ReferenceBackend() : new CpuBackend(2);
            var transformer = new Transformer(model, cpu);
            (forward, backend) = (slow ? new PacedForward(transformer, TimeSpan.FromMilliseconds(10)) : transformer, cpu as IDisposable ?? new NoResources());
        }

        var tokenizer = TextTokenizer.Load(files.Directory);
        var scheduler = new Scheduler(forward, tokenizer, engine);
        var server = new FathomServer(new ServerOptions { Port = 0, ApiKey = apiKey, MaxBodyBytes = maxBodyBytes, ShutdownGrace = TimeSpan.FromSeconds(1) });
        await server.StartAsync();
        server.SetModel(new ServedModel(ModelName, scheduler, tokenizer));
        return new TestServer(files, model, backend, forward.Device, scheduler, server, apiKey);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json, CancellationToken cancellation = default) =>
        Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"), cancellation);

    public Task<HttpResponseMessage> PostJsonAsync(string path, object body) => PostJsonAsync(path, JsonSerializer.Serialize(body));

    /// <summary>A metric's value from /metrics (the first sample with that exact name and labels).</summary>
    public async Task<double> MetricAsync(string name)
    {
        string text = await Http.GetStringAsync("metrics");
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"metric {name} not found in:\n{text}");
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.StopAsync();
        await Server.DisposeAsync();
        Scheduler.Dispose();
        _backend.Dispose();
        _model.Dispose();
        _files.Dispose();
    }
}

/// <summary>Nothing to dispose (a backend that holds no resources).</summary>
internal sealed class NoResources : IDisposable
{
    public void Dispose()
    {
    }
}
