using Fathom.Core;

namespace Fathom.Model;

/// <summary>The position-wise half of a decoder layer: a dense SwiGLU or a mixture of experts.</summary>
internal interface IFeedForward
{
    /// <summary>y[n, hidden] = FFN(x[n, hidden]).</summary>
    void Forward(ReadOnlySpan<float> x, int n, Span<float> y, Scratch scratch);
}

/// <summary>down(silu(gate · x) ⊙ (up · x)).</summary>
internal sealed class DenseFeedForward(FeedForwardWeights weights, IBackend backend) : IFeedForward
{
    public void Forward(ReadOnlySpan<float> x, int n, Span<float> y, Scratch scratch)
    {
        int width = weights.Width;
        var gate = scratch.Span(Buffer.Gate, n * width);
        var up = scratch.Span(Buffer.Up, n * width);
        backend.MatMul(weights.Gate, x, gate, n);
        backend.MatMul(weights.Up, x, up, n);
        backend.SiluMul(gate, up, gate);
        backend.MatMul(weights.Down, gate, y, n);
    }
}

/// <summary>
/// Routed experts plus always-on shared experts. Tokens are grouped by expert so each chosen expert runs
/// once over all its tokens; experts nobody chose are never touched.
/// </summary>
internal sealed class MoeFeedForward : IFeedForward
{
    private readonly ModelConfig _config;
    private readonly MoeWeights _weights;
    private readonly IBackend _backend;
    private readonly Router _router;
    private readonly DenseFeedForward[] _experts;
    private readonly DenseFeedForward? _shared;
    private readonly float[] _routeWeights;

    public MoeFeedForward(ModelConfig config, MoeWeights weights, IBackend backend)
    {
        _config = config;
        _weights = weights;
        _backend = backend;
        _router = new Router(config, weights.Bias);
        _experts = [.. weights.Experts.Select(e => new DenseFeedForward(e, backend))];
        _shared = weights.Shared is null ? null : new DenseFeedForward(weights.Shared, backend);
        _routeWeights = new float[config.NumExpertsPerTok];
    }

    public void Forward(ReadOnlySpan<float> x, int n, Span<float> y, Scratch scratch)
    {
        int hidden = _config.HiddenSize, k = _config.NumExpertsPerTok, count = _config.NRoutedExperts;
        var logits = scratch.Span(Buffer.RouterLogits, n * count);
        _backend.MatMul(_weights.Router, x, logits, n);

        var chosen = scratch.Ints(IntBuffer.ExpertIds, n * k);
        var slotWeights = scratch.Span(Buffer.RouteWeights, n * k);
        for (int t = 0; t < n; t++)
        {
            _router.Route(logits.Slice(t * count, count), chosen.Slice(t * k, k), _routeWeights);
            _routeWeights.CopyTo(slotWeights.Slice(t * k, k));
        }

        // Counting sort of the (token, slot) pairs by expert.
        var counts = scratch.Ints(IntBuffer.ExpertCounts, count);
        counts.Clear();
        foreach (int e in chosen)
        {
            counts[e]++;
        }

        var offsets = scratch.Ints(IntBuffer.ExpertOffsets, count + 1);
        offsets[0] = 0;
        for (int e = 0; e < count; e++)
        {
            offsets[e + 1] = offsets[e] + counts[e];
        }

        var order = scratch.Ints(IntBuffer.ExpertTokens, n * k);
        counts.Clear();
        for (int slot = 0; slot < n * k; slot++)
        {
            int e = chosen[slot];
            order[offsets[e] + counts[e]++] = slot;
        }

        if (_shared is not null)
        {
            _shared.Forward(x, n, y, scratch);
        }
        else
        {
            y[..(n * hidden)].Clear();
        }

        for (int e = 0; e < count; e++)
        {
            int m = offsets[e + 1] - offsets[e];
            if (m == 0)
            {
                continue;
            }

            var input = scratch.Span(Buffer.ExpertInput, m * hidden);
            for (int j = 0; j < m; j++)
            {
                int token = order[offsets[e] + j] / k;
                x.Slice(token * hidden, hidden).CopyTo(input.Slice(j * hidden, hidden));
            }

            var output = scratch.Span(Buffer.ExpertOutput, m * hidden);
            _experts[e].Forward(input, m, output, scratch);
            for (int j = 0; j < m; j++)
            {
                int slot = order[offsets[e] + j];
                _backend.ScaleAdd(output.Slice(j * hidden, hidden), slotWeights[slot], y.Slice((slot / k) * hidden, hidden));
            }
        }
    }
}
