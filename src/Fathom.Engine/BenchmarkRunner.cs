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
    public static BenchmarkResult Run(Transformer transformer, BenchmarkSettings settings, Action<string>? progress = null)
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

        return new BenchmarkResult(
            settings,
            prompt.Length > 0 ? new BenchmarkSeries(prefill) : null,
            generated.Length > 0 ? new BenchmarkSeries(decode) : null,
            prefillOthers,
            decodeOthers);
    }

    private static string Others(double? share) => share is { } s ? $" (other processes {s * 100:F0}% CPU)" : string.Empty;

    private static TimeSpan Prefill(Transformer transformer, int[] prompt, float[] logits)
    {
        var cache = transformer.CreateCache(prompt.Length);
        long start = Stopwatch.GetTimestamp();
        transformer.Forward(prompt, cache, logits);
        return Stopwatch.GetElapsedTime(start);
    }

    private static TimeSpan Decode(Transformer transformer, int[] decodePrompt, ReadOnlySpan<int> tokens, float[] logits)
    {
        var cache = transformer.CreateCache(decodePrompt.Length + tokens.Length);
        transformer.Forward(decodePrompt, cache, logits);
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < tokens.Length; i++)
        {
            transformer.Forward(tokens.Slice(i, 1), cache, logits);
        }

        return Stopwatch.GetElapsedTime(start);
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
