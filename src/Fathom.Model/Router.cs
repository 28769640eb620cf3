namespace Fathom.Model;

/// <summary>
/// DeepSeek's expert choice for one token, in Hugging Face's order: score the router logits (sigmoid or
/// softmax), add the correction bias for selection only, restrict to the best groups (noaux_tc: sum of a
/// group's top-2 biased scores; group_limited_greedy: the group's best score; others masked to 0.0),
/// take the top-k, weight by the unbiased scores, normalise if configured, and scale.
/// </summary>
public sealed class Router
{
    private readonly ModelConfig _config;
    private readonly float[]? _bias;
    private readonly float[] _scores;
    private readonly float[] _choice;
    private readonly float[] _groupScores;
    private readonly bool[] _keptGroup;

    public Router(ModelConfig config, float[]? bias)
    {
        _config = config;
        _bias = bias;
        _scores = new float[config.NRoutedExperts];
        _choice = new float[config.NRoutedExperts];
        _groupScores = new float[config.NGroup];
        _keptGroup = new bool[config.NGroup];
    }

    /// <summary>Chooses experts for one token; <paramref name="experts"/> and <paramref name="weights"/> hold num_experts_per_tok entries.</summary>
    public void Route(ReadOnlySpan<float> logits, Span<int> experts, Span<float> weights)
    {
        var c = _config;
        int count = c.NRoutedExperts;
        Score(logits);
        for (int e = 0; e < count; e++)
        {
            _choice[e] = _bias is null ? _scores[e] : _scores[e] + _bias[e];
        }

        if (c.NGroup > 1 && c.TopKMethod != TopKMethod.Greedy)
        {
            RestrictToGroups();
        }

        TopK(_choice, experts);
        double sum = 0;
        for (int j = 0; j < experts.Length; j++)
        {
            weights[j] = _scores[experts[j]];
            sum += weights[j];
        }

        float denominator = (float)sum + 1e-20f;
        for (int j = 0; j < experts.Length; j++)
        {
            float w = c.NormTopKProb && experts.Length > 1 ? weights[j] / denominator : weights[j];
            weights[j] = w * (float)c.RoutedScalingFactor;
        }
    }

    private void Score(ReadOnlySpan<float> logits)
    {
        int count = _config.NRoutedExperts;
        if (_config.ScoringFunc == ScoringFunction.Sigmoid)
        {
            for (int e = 0; e < count; e++)
            {
                _scores[e] = 1f / (1f + MathF.Exp(-logits[e]));
            }

            return;
        }

        float max = float.NegativeInfinity;
        for (int e = 0; e < count; e++)
        {
            max = MathF.Max(max, logits[e]);
        }

        double sum = 0;
        for (int e = 0; e < count; e++)
        {
            sum += Math.Exp(logits[e] - max);
        }

        for (int e = 0; e < count; e++)
        {
            _scores[e] = (float)(Math.Exp(logits[e] - max) / sum);
        }
    }

    private void RestrictToGroups()
    {
        var c = _config;
        int perGroup = c.NRoutedExperts / c.NGroup;
        for (int g = 0; g < c.NGroup; g++)
        {
            var group = _choice.AsSpan(g * perGroup, perGroup);
            if (c.TopKMethod == TopKMethod.NoAuxTc)
            {
                float best = float.NegativeInfinity, second = float.NegativeInfinity;
                foreach (float v in group)
                {
                    if (v > best)
                    {
                        second = best;
                        best = v;
                    }
                    else if (v > second)
                    {
                        second = v;
                    }
                }

                _groupScores[g] = perGroup > 1 ? best + second : best;
            }
            else
            {
                float best = float.NegativeInfinity;
                foreach (float v in _scores.AsSpan(g * perGroup, perGroup))
                {
                    best = MathF.Max(best, v);
                }

                _groupScores[g] = best;
            }
        }

        Array.Clear(_keptGroup);
        for (int k = 0; k < c.TopKGroup; k++)
        {
            int bestGroup = -1;
            for (int g = 0; g < c.NGroup; g++)
            {
                if (!_keptGroup[g] && (bestGroup < 0 || _groupScores[g] > _groupScores[bestGroup]))
                {
                    bestGroup = g;
                }
            }

            _keptGroup[bestGroup] = true;
        }

        for (int g = 0; g < c.NGroup; g++)
        {
            if (!_keptGroup[g])
            {
                _choice.AsSpan(g * perGroup, perGroup).Clear();
            }
        }
    }

    /// <summary>Indices of the largest values, best first; ties go to the lower index.</summary>
    internal static void TopK(ReadOnlySpan<float> values, Span<int> indices)
    {
        int k = indices.Length;
        int found = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (found == k && !(v > values[indices[k - 1]]))
            {
                continue;
            }

            int j = found < k ? found++ : k - 1;
            while (j > 0 && v > values[indices[j - 1]])
            {
                indices[j] = indices[j - 1];
                j--;
            }

            indices[j] = i;
        }
    }
}
