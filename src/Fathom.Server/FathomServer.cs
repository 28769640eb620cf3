using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fathom.Server;

/// <summary>
/// The OpenAI-compatible HTTP server on Kestrel (minimal APIs). It listens before the model is loaded
/// (/health says "loading", API routes answer 503) and serves once <see cref="SetModel"/> is called.
/// </summary>
public sealed class FathomServer : IAsyncDisposable
{
    private readonly ServerOptions _options;
    private readonly WebApplication _app;
    private volatile ServedModel? _model;

    public FathomServer(ServerOptions options, ILoggerProvider? logging = null)
    {
        _options = options;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (logging is not null)
        {
            builder.Logging.AddProvider(logging);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        }

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            k.AddServerHeader = false;
            if (IPAddress.TryParse(options.Host, out var address))
            {
                k.Listen(address, options.Port);
            }
            else if (options.Host == "localhost")
            {
                k.ListenLocalhost(options.Port);
            }
            else
            {
                throw new ArgumentException($"--host must be an IP address or localhost (got '{options.Host}')", nameof(options));
            }
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownGrace + TimeSpan.FromSeconds(2));
        _app = builder.Build();
        _app.Use(GuardAsync);
        Map(_app);
    }

    public ServerMetrics Metrics { get; } = new();

    public ServedModel? Model => _model;

    /// <summary>The addresses Kestrel listens on (after <see cref="StartAsync"/>), e.g. http://127.0.0.1:8000.</summary>
    public IReadOnlyList<string> Addresses =>
        [.. _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? []];

    public Task StartAsync(CancellationToken cancellation = default) => _app.StartAsync(cancellation);

    /// <summary>Makes the model available: /health turns "ready".</summary>
    public void SetModel(ServedModel model) => _model = model;

    /// <summary>Stops listening; in-flight requests get the shutdown grace to finish, then are cancelled.</summary>
    public async Task StopAsync()
    {
        var model = _model;
        var engineStop = model is null ? Task.CompletedTask : Task.Run(() => model.Scheduler.Shutdown(_options.ShutdownGrace));
        await _app.StopAsync().ConfigureAwait(false);
        await engineStop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync().ConfigureAwait(false);

    /// <summary>Errors of every route in OpenAI's shape; the key check; no exception of a request escapes as a 500 page.</summary>
    private async Task GuardAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            string path = context.Request.Path.Value ?? string.Empty;
            bool open = path is "/health" or "/metrics";
            if (!open && _options.ApiKey is { } key && context.Request.Headers.Authorization.ToString() != "Bearer " + key)
            {
                throw new ApiException(401, "missing or wrong API key: send 'Authorization: Bearer <key>'", "authentication_error", code: "invalid_api_key");
            }

            await next(context).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            if (e.Status >= 500 && e.Type == "server_error")
            {
                Metrics.Count("error");
            }
            else if (e.Status is 400 or 404 or 413)
            {
                Metrics.Count("invalid");
            }

            await ErrorResponse.WriteAsync(context, e).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            Metrics.Count("invalid");
            bool tooLarge = e.StatusCode == StatusCodes.Status413PayloadTooLarge;
            await ErrorResponse.WriteAsync(
                context,
                e.StatusCode,
                tooLarge ? $"the request body is larger than the {_options.MaxBodyBytes} bytes this server accepts" : e.Message,
                "invalid_request_error",
                code: tooLarge ? "request_too_large" : null).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            Metrics.Count("invalid");
            await ErrorResponse.WriteAsync(context, 400, $"the request body is not valid JSON: {e.Message}", "invalid_request_error").ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left; nothing to answer.
        }
#pragma warning disable CA1031 // a fault of one request must not end the server or leave a bare 500 page
        catch (Exception e)
#pragma warning restore CA1031
        {
            Metrics.Count("error");
            _app.Logger.LogError(e, "request {Path} failed", context.Request.Path);
            await ErrorResponse.WriteAsync(context, 500, $"internal error: {e.Message}", "server_error").ConfigureAwait(false);
        }
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/health", context =>
        {
            bool ready = _model is not null;
            context.Response.StatusCode = ready ? 200 : 503;
            return context.Response.WriteAsJsonAsync(new HealthStatus(ready ? "ready" : "loading"), ServerJsonContext.Default.HealthStatus);
        });
        app.MapGet("/metrics", context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            return context.Response.WriteAsync(Metrics.Render(_model?.Scheduler.Statistics));
        });
        app.MapGet("/v1/models", context =>
        {
            var model = RequireModel();
            var list = new ModelList("list", [new ModelCard(model.Name, "model", Process.GetCurrentProcess().StartTime.ToUniversalTime().ToUnixTimeSecondsSafe(), "fathom", model.Scheduler.MaxContext)]);
            return context.Response.WriteAsJsonAsync(list, ServerJsonContext.Default.ModelList);
        });
        app.MapGet("/v1/models/{id}", (HttpContext context, string id) =>
        {
            var model = RequireModel();
            return id == model.Name
                ? context.Response.WriteAsJsonAsync(new ModelCard(model.Name, "model", 0, "fathom", model.Scheduler.MaxContext), ServerJsonContext.Default.ModelCard)
                : throw ApiException.NotFound($"the model '{id}' does not exist", "model", "model_not_found");
        });
        app.MapPost("/v1/chat/completions", context => GenerateAsync(context, ApiFlavor.Chat, (p, body) => p.ParseChat(body)));
        app.MapPost("/v1/completions", context => GenerateAsync(context, ApiFlavor.Completion, (p, body) => p.ParseCompletion(body)));
        app.MapPost("/generate", context => GenerateAsync(context, ApiFlavor.Simple, (p, body) => p.ParseSimple(body, chat: false)));
        app.MapPost("/chat", context => GenerateAsync(context, ApiFlavor.Simple, (p, body) => p.ParseSimple(body, chat: true)));
        app.MapFallback(context =>
        {
            var request = context.Request;
            if (AllowedMethod(request.Path) is { } allowed)
            {
                context.Response.Headers.Allow = allowed;
                throw new ApiException(405, $"{request.Path} takes {allowed}, not {request.Method}", "invalid_request_error", code: "method_not_allowed");
            }

            throw HttpMethods.IsGet(request.Method) || HttpMethods.IsPost(request.Method)
                ? ApiException.NotFound($"no route {request.Method} {request.Path}", code: "unknown_route")
                : new ApiException(405, $"method {request.Method} is not allowed on {request.Path}", "invalid_request_error", code: "method_not_allowed");
        });
    }

    /// <summary>The method a route above answers (a request that reached the fallback used another one); null for unknown paths.</summary>
    private static string? AllowedMethod(PathString path)
    {
        string p = path.Value?.TrimEnd('/') ?? string.Empty;
        return p switch
        {
            "/health" or "/metrics" or "/v1/models" => HttpMethods.Get,
            "/v1/chat/completions" or "/v1/completions" or "/generate" or "/chat" => HttpMethods.Post,
            _ when p.StartsWith("/v1/models/", StringComparison.Ordinal) && p.Length > "/v1/models/".Length && p.IndexOf('/', "/v1/models/".Length) < 0 => HttpMethods.Get,
            _ => null,
        };
    }

    private async Task GenerateAsync(HttpContext context, ApiFlavor flavor, Func<RequestParser, JsonElement, GenerationJob> parse)
    {
        long arrival = Stopwatch.GetTimestamp();
        var model = RequireModel();
        if (context.Request.ContentType is { } type && !type.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(415, $"the body must be JSON (Content-Type: application/json, got {type})", "invalid_request_error");
        }

        if (context.Request.ContentLength > _options.MaxBodyBytes)
        {
            throw new ApiException(413, $"the request body is larger than the {_options.MaxBodyBytes} bytes this server accepts", "invalid_request_error", code: "request_too_large");
        }

        using var body = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted).ConfigureAwait(false);
        GenerationJob job;
        try
        {
            job = parse(new RequestParser(model), body.RootElement);
        }
        catch (InvalidOperationException e) when (e.InnerException is System.Text.DecoderFallbackException)
        {
            // System.Text.Json checks the UTF-8 of strings only when they are read.
            throw ApiException.Invalid("the request body is not valid JSON: a string holds invalid UTF-8");
        }

        await new GenerationRunner(model, Metrics).RunAsync(context, job, flavor, arrival).ConfigureAwait(false);
    }

    private ServedModel RequireModel() =>
        _model ?? throw new ApiException(503, "the model is still loading; retry shortly", "service_unavailable", code: "model_loading");
}
