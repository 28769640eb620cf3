namespace Fathom.Engine;

/// <summary>
/// Chooses tokens from logits for one sequence. All buffers are sized to the vocabulary once, so
/// sampling allocates nothing per token.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingParams _params;
    private readonly int _vocab;
    private readonly int[] _outputCounts;
    private readonly bool[] _seen;
    private readonly List<int> _seenList = [];
    private readonly int[] _candidates;
    private readonly float[] _keys;
    private Xoshiro256 _rng;

    public Sampler(SamplingParams parameters, int vocabSize)
    {
        parameters.Validate();
        _params = parameters;
        _vocab = vocabSize;
        _outputCounts = new int[vocabSize];
        _seen = new bool[vocabSize];
        _candidates = new int[vocabSize];
        _keys = new float[vocabSize];
        Seed = parameters.Seed ?? (ulong)Random.Shared.NextInt64();
        _rng = new Xoshiro256(Seed);
    }

    /// <summary>The seed in use (drawn when the parameters gave none).</summary>
    public ulong Seed { get; }

    /// <summary>Records prompt tokens for the repetition penalty.</summary>
    public void AddPrompt(ReadOnlySpan<int> prompt)
    {
        foreach (int id in prompt)
        {
            MarkSeen(id);
        }
    }

    /// <summary>Records a generated token for every penalty.</summary>
    public void Accept(int id)
    {
        MarkSeen(id);
        _outputCounts[id]++;
    }

    /// <summary>Picks the next token; <paramref name="logits"/> is modified.</summary>
    public int Sample(Span<float> logits)
    {
        if (logits.Length != _vocab)
        {
            throw new ArgumentException($"expected {_vocab} logits, got {logits.Length}", nameof(logits));
        }

        ApplyPenalties(logits);
        if (_params.Temperature == 0)
        {
            return ArgMax(logits);
        }

        // Candidates sorted by logit, best first (only the top-k when a top-k is set); _keys holds their logits.
        int count;
        if (_params.TopK > 0 && _params.TopK < _vocab)
        {
            count = SelectTopK(logits, _params.TopK);
            for (int i = 0; i < count; i++)
            {
                _keys[i] = logits[_candidates[i]];
            }
        }
        else
        {
            count = SortAll(logits);
            for (int i = 0; i < count; i++)
            {
                _keys[i] = -_keys[i];
            }
        }

        return Draw(count);
    }

    /// <summary>
    /// How many of a row's largest logits (<see cref="Model.LogitCandidates"/>) this sampler needs to choose
    /// exactly as from the whole row: 1 for greedy, top_k for top-k sampling (top-p and min-p then act
    /// within the top k); 0 when it needs the whole row (penalties over the vocabulary, or sampling
    /// without a top-k).
    /// </summary>
    public int CandidatesNeeded =>
        _params.RepetitionPenalty != 1 || _params.PresencePenalty != 0 || _params.FrequencyPenalty != 0 ? 0
        : _params.Temperature == 0 ? 1
        : _params.TopK > 0 && _params.TopK < _vocab ? _params.TopK
        : 0;

    /// <summary>
    /// Picks the next token from a row's largest logits, best first (equal values: lower id first), of
    /// which there are at least <see cref="CandidatesNeeded"/>: the same token <see cref="Sample(Span{float})"/>
    /// picks from the whole row, with the same random draws.
    /// </summary>
    public int Sample(ReadOnlySpan<float> values, ReadOnlySpan<int> ids)
    {
        int needed = CandidatesNeeded;
        if (needed == 0 || values.Length < needed || ids.Length < needed)
        {
            throw new ArgumentException($"these sampling parameters need {(needed == 0 ? "the whole logits row" : $"{needed} candidates")}, got {values.Length}", nameof(values));
        }

        if (_params.Temperature == 0)
        {
            return ids[0];
        }

        for (int i = 0; i < needed; i++)
        {
            _keys[i] = values[i];
            _candidates[i] = ids[i];
        }

        return Draw(needed);
    }

    /// <summary>Samples among the first <paramref name="count"/> candidates, whose logits (best first) are in _keys.</summary>
    private int Draw(int count)
    {
        float inverseTemperature = 1f / _params.Temperature;
        float max = _keys[0];
        double total = 0;
        for (int i = 0; i < count; i++)
        {
            float p = MathF.Exp((_keys[i] - max) * inverseTemperature);
            _keys[i] = p;
            total += p;
        }

        // top-p: the shortest prefix whose mass reaches p (at least one token).
        if (_params.TopP < 1)
        {
            double kept = 0;
            int cut = count;
            for (int i = 0; i < count; i++)
            {
                kept += _keys[i] / total;
                if (kept >= _params.TopP)
                {
                    cut = i + 1;
                    break;
                }
            }

            count = cut;
        }

        // min-p: relative to the most likely token (probabilities are proportional to _keys).
        if (_params.MinP > 0)
        {
            float threshold = _params.MinP * _keys[0];
            int cut = 1;
            while (cut < count && _keys[cut] >= threshold)
            {
                cut++;
            }

            count = cut;
        }

        double mass = 0;
        for (int i = 0; i < count; i++)
        {
            mass += _keys[i];
        }

        double u = _rng.NextDouble() * mass;
        for (int i = 0; i < count; i++)
        {
            u -= _keys[i];
            if (u < 0)
            {
                return _candidates[i];
            }
        }

        return _candidates[count - 1];
    }

    /// <summary>Index of the largest logit; the lowest index wins a tie (as torch.argmax).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }

        return best;
    }

    private void MarkSeen(int id)
    {
        if ((uint)id >= (uint)_vocab)
        {
            throw new ArgumentOutOfRangeException(nameof(id), $"token id {id} outside the vocabulary [0, {_vocab})");
        }

        if (!_seen[id])
        {
            _seen[id] = true;
            _seenList.Add(id);
        }
    }

    private void ApplyPenalties(Span<float> logits)
    {
        float repetition = _params.RepetitionPenalty, presence = _params.PresencePenalty, frequency = _params.FrequencyPenalty;
        if (repetition == 1 && presence == 0 && frequency == 0)
        {
            return;
        }

        foreach (int id in _seenList)
        {
            float v = logits[id];
            if (repetition != 1)
            {
                v = v > 0 ? v / repetition : v * repetition;
            }

            int n = _outputCounts[id];
            if (n > 0)
            {
                v -= presence + (frequency * n);
            }

            logits[id] = v;
        }
    }

    private int SortAll(ReadOnlySpan<float> logits)
    {
        for (int i = 0; i < _vocab; i++)
        {
            _candidates[i] = i;
            _keys[i] = -logits[i];
        }

        Array.Sort(_keys, _candidates, 0, _vocab);
        return _vocab;
    }

    private int SelectTopK(ReadOnlySpan<float> logits, int k)
    {
        // Insertion into a sorted window of size k: O(V·k) worst case, fast for the usual small k.
        int found = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float v = logits[i];
            if (found == k && !(v > logits[_candidates[k - 1]]))
            {
                continue;
            }

            int j = found < k ? found++ : k - 1;
            while (j > 0 && v > logits[_candidates[j - 1]])
            {
                _candidates[j] = _candidates[j - 1];
                j--;
            }

            _candidates[j] = i;
        }

        return found;
    }
}
