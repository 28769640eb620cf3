using System.Diagnostics;
using System.Threading.Channels;
using Fathom.Engine.Serving;
using Microsoft.AspNetCore.Http;

namespace Fathom.Server;

/// <summary>
/// Runs a parsed job on the engine and answers: one engine request per choice, collected into one response
/// or streamed as server-sent events. The engine requests are cancelled when the client goes away.
/// </summary>
internal sealed class GenerationRunner(ServedModel model, ServerMetrics metrics)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public async Task RunAsync(HttpContext context, GenerationJob job, ApiFlavor flavor, long arrival)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var handles = new RequestHandle[job.N];
        try
        {
            for (int i = 0; i < job.N; i++)
            {
                var sampling = job.Sampling.Seed is { } seed ? job.Sampling with { Seed = seed + (ulong)i } : job.Sampling;
                handles[i] = model.Scheduler.Submit(new Request(job.Prompt, sampling, job.Stop, job.TopLogprobs, cancel.Token));
            }
        }
        catch (EngineOverloadedException e)
        {
            await cancel.CancelAsync().ConfigureAwait(false);
            metrics.Count("rejected");
            bool stopping = e.Message.Contains("shutting down", StringComparison.Ordinal);
            throw new ApiException(stopping ? 503 : 429, e.Message, stopping ? "service_unavailable" : "rate_limit_exceeded", code: stopping ? "shutting_down" : "queue_full");
        }
        catch (ArgumentException e)
        {
            await cancel.CancelAsync().ConfigureAwait(false);
            throw ApiException.Invalid(e.Message, e.ParamName);
        }

        string id = (flavor == ApiFlavor.Chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        var json = new ResponseJson(model, flavor, id, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), job.ReturnTokenIds);
        var choices = Enumerable.Range(0, job.N).Select(i => new ChoiceState(i, flavor != ApiFlavor.Completion, job.StartsInThinking, arrival)).ToArray();
        try
        {
            if (job.Stream)
            {
                await StreamAsync(context, handles, choices, json, job.IncludeUsage, job.ReturnTokenIds, arrival, cancel.Token).ConfigureAwait(false);
            }
            else
            {
                await CollectAsync(context, handles, choices, json, arrival, cancel.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException || (e is OperationCanceledException && context.RequestAborted.IsCancellationRequested))
        {
            // The client went away; its engine requests end below. Each unfinished one counts as cancelled.
            foreach (var c in choices.Where(c => c.Completion is null))
            {
                metrics.Count("cancelled");
            }
        }
        finally
        {
            await cancel.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task CollectAsync(HttpContext context, RequestHandle[] handles, ChoiceState[] choices, ResponseJson json, long arrival, CancellationToken cancel)
    {
        for (int i = 0; i < handles.Length; i++)
        {
            await foreach (var e in handles[i].Events.ReadAllAsync(cancel).ConfigureAwait(false))
            {
                choices[i].Take(e, metrics);
                if (e.Completion is { } done)
                {
                    Complete(choices[i], done, arrival);
                }
            }
        }

        if (choices.FirstOrDefault(c => c.Completion?.Error is not null) is { } failed)
        {
            throw new ApiException(500, failed.Completion!.Error!, "server_error");
        }

        if (choices.Any(c => c.Completion!.FinishReason == Engine.FinishReason.Cancelled))
        {
            throw new ApiException(503, "the request was cancelled because the server is shutting down", "service_unavailable", code: "shutting_down");
        }

        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(json.Full(choices), cancel).ConfigureAwait(false);
    }

    private async Task StreamAsync(HttpContext context, RequestHandle[] handles, ChoiceState[] choices, ResponseJson json, bool includeUsage, bool returnTokenIds, long arrival, CancellationToken cancel)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        var merged = Channel.CreateUnbounded<(int Choice, RequestEvent Event)>(new UnboundedChannelOptions { SingleReader = true });
        var pumps = handles.Select((h, i) => PumpAsync(h, i, merged.Writer, cancel)).ToArray();
        _ = Task.WhenAll(pumps).ContinueWith(_ => merged.Writer.TryComplete(), TaskScheduler.Default);
        var started = new bool[choices.Length];
        await response.StartAsync(cancel).ConfigureAwait(false);
        await foreach (var (i, e) in merged.Reader.ReadAllAsync(cancel).ConfigureAwait(false))
        {
            var c = choices[i];
            var (reasoning, content) = c.Take(e, metrics);
            if (e.Completion is { } done)
            {
                Complete(c, done, arrival);
                if (done.Error is not null)
                {
                    await SendAsync(response, ErrorResponse.Build(done.Error, "server_error", null, null), cancel).ConfigureAwait(false);
                    return;
                }
            }

            if (reasoning.Length == 0 && content.Length == 0 && e.Completion is null && started[i] && e.Logprob is null && !returnTokenIds)
            {
                continue;   // a token that completed no text yet
            }

            await SendAsync(response, json.Chunk(c, reasoning, content, e.Id >= 0 ? e : null, !started[i], e.Completion), cancel).ConfigureAwait(false);
            started[i] = true;
        }

        if (includeUsage)
        {
            await SendAsync(response, json.UsageChunk(choices), cancel).ConfigureAwait(false);
        }

        await response.Body.WriteAsync(Done, cancel).ConfigureAwait(false);
        await response.Body.FlushAsync(cancel).ConfigureAwait(false);
    }

    private static async Task PumpAsync(RequestHandle handle, int index, ChannelWriter<(int, RequestEvent)> writer, CancellationToken cancel)
    {
        await foreach (var e in handle.Events.ReadAllAsync(cancel).ConfigureAwait(false))
        {
            await writer.WriteAsync((index, e), cancel).ConfigureAwait(false);
        }
    }

    private static async Task SendAsync(HttpResponse response, byte[] payload, CancellationToken cancel)
    {
        await response.Body.WriteAsync(DataPrefix, cancel).ConfigureAwait(false);
        await response.Body.WriteAsync(payload, cancel).ConfigureAwait(false);
        await response.Body.WriteAsync(EventEnd, cancel).ConfigureAwait(false);
        await response.Body.FlushAsync(cancel).ConfigureAwait(false);
    }

    private void Complete(ChoiceState choice, RequestCompletion done, long arrival)
    {
        choice.Completion = done;
        metrics.Count(done);
        metrics.EndToEndLatency.Observe(Stopwatch.GetElapsedTime(arrival).TotalSeconds);
    }
}
