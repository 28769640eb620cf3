using System.Globalization;
using System.Text;
using Fathom.Engine;
using Fathom.Engine.Serving;

namespace Fathom.Server;

/// <summary>Request-level metrics and the Prometheus text exposition of them plus the engine's statistics.</summary>
public sealed class ServerMetrics
{
    private static readonly double[] LatencyBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
    private readonly long[] _outcomes = new long[Outcomes.Length];

    private static readonly string[] Outcomes = ["stop", "length", "cancelled", "error", "rejected", "invalid"];

    public Histogram TimeToFirstToken { get; } = new(LatencyBounds);

    public Histogram InterTokenLatency { get; } = new(LatencyBounds);

    public Histogram EndToEndLatency { get; } = new(LatencyBounds);

    public long Outcome(string outcome) => Interlocked.Read(ref _outcomes[Array.IndexOf(Outcomes, outcome)]);

    public void Count(string outcome) => Interlocked.Increment(ref _outcomes[Array.IndexOf(Outcomes, outcome)]);

    public void Count(RequestCompletion completion) => Count(completion.Error is not null ? "error" : completion.FinishReason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => "cancelled",
    });

    public string Render(EngineStatistics? engine)
    {
        var b = new StringBuilder();
        b.Append("# HELP fathom_requests_total Requests by outcome.\n# TYPE fathom_requests_total counter\n");
        for (int i = 0; i < Outcomes.Length; i++)
        {
            b.Append(CultureInfo.InvariantCulture, $"fathom_requests_total{{outcome=\"{Outcomes[i]}\"}} {Interlocked.Read(ref _outcomes[i])}\n");
        }

        WriteHistogram(b, "fathom_time_to_first_token_seconds", "Time from request arrival to its first token.", TimeToFirstToken);
        WriteHistogram(b, "fathom_inter_token_latency_seconds", "Time between consecutive tokens of a request.", InterTokenLatency);
        WriteHistogram(b, "fathom_e2e_request_latency_seconds", "Time from request arrival to its last token.", EndToEndLatency);
        if (engine is not null)
        {
            Write(b, "fathom_prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", engine.PromptTokens);
            Write(b, "fathom_generation_tokens_total", "counter", "Generated tokens.", engine.GeneratedTokens);
            Write(b, "fathom_requests_running", "gauge", "Requests in the running batch.", engine.Running);
            Write(b, "fathom_requests_waiting", "gauge", "Requests waiting for a place in the batch.", engine.Waiting);
            Write(b, "fathom_kv_pages_used", "gauge", "KV cache pages held by requests.", engine.UsedPages);
            Write(b, "fathom_kv_pages_total", "gauge", "KV cache pages in the pool.", engine.PageCount);
            Write(b, "fathom_kv_page_tokens", "gauge", "Tokens per KV cache page.", engine.PageSize);
            Write(b, "fathom_prefix_cache_lookup_tokens_total", "counter", "Prompt tokens looked up in the prefix cache.", engine.PrefixLookupTokens);
            Write(b, "fathom_prefix_cache_hit_tokens_total", "counter", "Prompt tokens served from the prefix cache.", engine.PrefixHitTokens);
            Write(b, "fathom_prefix_cache_hit_rate", "gauge", "Hit tokens over lookup tokens since start.", engine.PrefixHitRate);
            Write(b, "fathom_preemptions_total", "counter", "Sequences preempted (to be recomputed) for lack of KV pages.", engine.Preemptions);
            Write(b, "fathom_engine_steps_total", "counter", "Forward passes run by the scheduler.", engine.Steps);
            WriteHistogram(b, "fathom_batch_size", "Sequences per forward pass.", engine.BatchSize);
        }

        return b.ToString();
    }

    private static void Write(StringBuilder b, string name, string type, string help, double value) =>
        b.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value}\n");

    private static void WriteHistogram(StringBuilder b, string name, string help, Histogram h)
    {
        b.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} histogram\n");
        for (int i = 0; i < h.Bounds.Count; i++)
        {
            b.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"{h.Bounds[i]}\"}} {h.CumulativeCount(i)}\n");
        }

        b.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"+Inf\"}} {h.Count}\n{name}_sum {h.Sum}\n{name}_count {h.Count}\n");
    }
}
