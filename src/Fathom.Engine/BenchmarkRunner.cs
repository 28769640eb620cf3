using System.Diagnostics;
using Fathom.Model;

namespace Fathom.Engine;

/// <summary>
/// Times the two phases of generation through the Transformer API, as llama-bench does: prefill (one
/// forward pass of the whole prompt into a fresh cache) and decode (one forward pass per token). Token ids
/// are random and fixed by the seed; decoding feeds them instead of sampled ones, so every run does the
/// same work and the sampler's cost (a pass over the logits) stays out of the number.
/// </summary>
public static class BenchmarkRunner
{
    public static BenchmarkResult Run(IForwardPass transformer, BenchmarkSettings settings, Action<string>? progress = null)
    {
        settings.Validate(transformer.Config.MaxPositionEmbeddings);
        var random = new Xoshiro256(settings.Seed);
        int vocab = transformer.VocabSize;
        int[] prompt = RandomIds(ref random, settings.PromptTokens, vocab);
        int[] decodePrompt = RandomIds(ref random, settings.DecodePromptTokens, vocab);
        int[] generated = RandomIds(ref random, settings.GenTokens, vocab);
        var logits = new float[vocab];

        if (settings.Warmup)
        {
            if (prompt.Length > 0)
            {
                Prefill(transformer, prompt, logits);
            }

            Decode(transformer, decodePrompt, generated.AsSpan(0, Math.Min(4, generated.Length)), logits);
            progress?.Invoke("warm-up done");
        }

        var prefill = new List<double>();
        var decode = new List<double>();
        var prefillOthers = new List<double?>();
        var decodeOthers = new List<double?>();
        for (int r = 0; r < settings.Repetitions; r++)
        {
            string line = $"repetition {r + 1}/{settings.Repetitions}:";
            if (prompt.Length > 0)
            {
                var before = BenchmarkProcess.SampleCpu();
                prefill.Add(prompt.Length / Prefill(transformer, prompt, logits).TotalSeconds);
                prefillOthers.Add(BenchmarkProcess.OtherCpuShare(before, BenchmarkProcess.SampleCpu()));
                line += $" prefill {prefill[^1]:F2} tok/s{Others(prefillOthers[^1])}";
            }

            if (generated.Length > 0)
            {
                var before = BenchmarkProcess.SampleCpu();
                decode.Add(generated.Length / Decode(transformer, decodePrompt, generated, logits).TotalSeconds);
                decodeOthers.Add(BenchmarkProcess.OtherCpuShare(before, BenchmarkProcess.SampleCpu()));
                line += $" decode {decode[^1]:F2} tok/s{Others(decodeOthers[^1])}";
            }

            progress?.Invoke(line);
        }

        var batched = new List<BenchmarkBatchDecode>();
        foreach (int batch in settings.DecodeBatches.Where(b => b > 1))
        {
            if (generated.Length == 0)
            {
                break;
            }

            var batchLogits = new float[batch * vocab];
            if (settings.Warmup)
            {
                DecodeBatch(transformer, batch, decodePrompt, generated.AsSpan(0, Math.Min(4, generated.Length)), batchLogits);
            }

            var rates = new List<double>();
            for (int r = 0; r < settings.Repetitions; r++)
            {
                rates.Add(batch * generated.Length / DecodeBatch(transformer, batch, decodePrompt, generated, batchLogits).TotalSeconds);
            }

            batched.Add(new BenchmarkBatchDecode(batch, new BenchmarkSeries(rates)));
            progress?.Invoke($"decode at batch {batch}: {batched[^1].TokensPerSecond.Median:F2} tok/s (median of {rates.Count})");
        }

        return new BenchmarkResult(
            settings,
            prompt.Length > 0 ? new BenchmarkSeries(prefill) : null,
            generated.Length > 0 ? new BenchmarkSeries(decode) : null,
            prefillOthers,
            decodeOthers)
        {
            BatchDecode = batched,
        };
    }

    private static string Others(double? share) => share is { } s ? $" (other processes {s * 100:F0}% CPU)" : string.Empty;

    private static TimeSpan Prefill(IForwardPass transformer, int[] prompt, float[] logits)
    {
        using var cache = transformer.CreateCache(prompt.Length);
        long start = Stopwatch.GetTimestamp();
        transformer.Forward(prompt, cache, logits);
        return Stopwatch.GetElapsedTime(start);
    }

    private static TimeSpan Decode(IForwardPass transformer, int[] decodePrompt, ReadOnlySpan<int> tokens, float[] logits)
    {
        using var cache = transformer.CreateCache(decodePrompt.Length + tokens.Length);
        transformer.Forward(decodePrompt, cache, logits);
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < tokens.Length; i++)
        {
            transformer.Forward(tokens.Slice(i, 1), cache, logits);
        }

        return Stopwatch.GetElapsedTime(start);
    }

    /// <summary>
    /// <paramref name="batch"/> sequences decoding together, one token each per pass: every sequence
    /// starts from the same untimed prompt and is fed the same ids shifted by its index, so no two rows
    /// are equal.
    /// </summary>
    private static TimeSpan DecodeBatch(IForwardPass transformer, int batch, int[] decodePrompt, ReadOnlySpan<int> tokens, float[] logits)
    {
        var caches = new ISequenceCache[batch];
        var entries = new BatchEntry[batch];
        var steps = new int[batch][];
        try
        {
            int vocab = transformer.VocabSize;
            for (int b = 0; b < batch; b++)
            {
                caches[b] = transformer.CreateCache(decodePrompt.Length + tokens.Length);
                entries[b] = new BatchEntry(decodePrompt, caches[b]);
                steps[b] = new int[1];
            }

            for (int first = 0; first < batch; first += Math.Max(1, transformer.MaxChunkTokens / decodePrompt.Length))
            {
                int count = Math.Min(batch - first, Math.Max(1, transformer.MaxChunkTokens / decodePrompt.Length));
                transformer.Forward(entries.AsSpan(first, count), logits);
            }

            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < tokens.Length; i++)
            {
                for (int b = 0; b < batch; b++)
                {
                    steps[b][0] = (tokens[i] + b) % vocab;
                    entries[b] = new BatchEntry(steps[b], caches[b]);
                }

                transformer.Forward(entries, logits);
            }

            return Stopwatch.GetElapsedTime(start);
        }
        finally
        {
            foreach (var cache in caches)
            {
                cache?.Dispose();
            }
        }
    }

    private static int[] RandomIds(ref Xoshiro256 random, int count, int vocab)
    {
        var ids = new int[count];
        for (int i = 0; i < count; i++)
        {
            ids[i] = (int)(random.NextUInt64() % (ulong)vocab);
        }

        return ids;
    }
}
