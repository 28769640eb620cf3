using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Fathom.Core;
using Fathom.Engine;
using Fathom.Model;

namespace Fathom.Cli.Commands;

/// <summary>`fathom bench`: prefill and decode throughput of a model, llama-bench style, with memory and bandwidth figures.</summary>
public static class BenchCommand
{
    public static Command Create(CliConsole console)
    {
        var models = new ModelOptionSet(console);
        var promptTokens = new Option<int>("--prompt-tokens", "-p") { Description = "Tokens of the prefill test (0 skips it).", DefaultValueFactory = _ => 512 };
        var genTokens = new Option<int>("--gen-tokens", "-n") { Description = "Tokens of the decode test, one forward pass each (0 skips it).", DefaultValueFactory = _ => 128 };
        var repetitions = new Option<int>("--repetitions", "-r") { Description = "Repetitions of the (prefill, decode) pair; the median is reported.", DefaultValueFactory = _ => 3 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random token ids.", DefaultValueFactory = _ => 0 };
        var noWarmup = new Option<bool>("--no-warmup") { Description = "Skip the untimed warm-up round." };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON line." };
        var batches = new Option<string>("--batch", "-b") { Description = "Decode batch sizes, comma-separated (e.g. 1,8,32,128): sizes above 1 decode that many sequences per forward pass.", DefaultValueFactory = _ => "1" };
        var output = new Option<string?>("--output", "-o") { Description = "Also write the result as indented JSON to this file (e.g. benchmarks/results/...)." };
        var command = new Command("bench", "Measure prefill and decode tokens/s of a model (random token ids; median of repetitions).")
        {
            promptTokens, genTokens, repetitions, seed, noWarmup, json, output, batches,
        };
        models.AddTo(command);
        command.SetAction(result =>
        {
            var options = models.Read(result);
            var settings = new BenchmarkSettings
            {
                PromptTokens = result.GetValue(promptTokens),
                GenTokens = result.GetValue(genTokens),
                Repetitions = result.GetValue(repetitions),
                Seed = result.GetValue(seed),
                Warmup = !result.GetValue(noWarmup),
                DecodeBatches = ParseBatches(result.GetValue(batches) ?? "1"),
            };
            string? loadBefore = BenchmarkProcess.LoadAverage();
            long loadStarted = Stopwatch.GetTimestamp();
            using var session = Open(options);
            var loadTime = Stopwatch.GetElapsedTime(loadStarted);
            var config = session.Model.Config;
            try
            {
                settings.Validate(config.MaxPositionEmbeddings);
            }
            catch (ArgumentException e)
            {
                throw new CliException($"bench: {e.Message}");
            }

            var traffic = BenchmarkWeightTraffic.Compute(session.Model.Weights, config);
            var summary = ModelSummary.Compute(session.Model);
            int threads = options.Backend == "reference" ? 1 : options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
            string format = FormatName(traffic.Format);
            console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loaded {session.Directory} ({format}, --load {LoadName(session.Model.Options.Residency)}) in {loadTime.TotalSeconds:F1} s; load average {loadBefore}"));

            var measured = BenchmarkRunner.Run(session.Transformer, settings, line => console.Error.WriteLine(line));
            var gpu = session.Transformer as Fathom.Backends.Cuda.CudaTransformer;
            var gpuReport = gpu is null ? null : GpuReport(gpu, traffic.BytesPerToken, measured.Decode?.Median);
            string? loadAfter = BenchmarkProcess.LoadAverage();
            long peakRss = BenchmarkProcess.PeakResidentBytes();
            double? decodeRate = measured.Decode?.Median;
            var machine = BenchmarkMachine.Describe();

            var report = new JsonObject
            {
                ["benchmark"] = "fathom bench",
                ["timestamp"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
                ["model"] = Path.GetFullPath(session.Directory),
                ["model_name"] = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(session.Directory))),
                ["model_type"] = config.ModelType,
                ["layers"] = config.NumHiddenLayers,
                ["vocab_size"] = config.VocabSize,
                ["parameters"] = summary.TotalParameters,
                ["format"] = format,
                ["quantize"] = options.Load.Quantize is { } q ? FormatName(q) : null,
                ["load"] = LoadName(session.Model.Options.Residency),
                ["load_seconds"] = Math.Round(loadTime.TotalSeconds, 3),
                ["backend"] = options.Device.IsCuda ? "cuda" : options.Backend,
                ["activations"] = options.Device.IsCuda ? (options.Bf16Activations ? "bf16" : "f32") : "f32",
                ["threads"] = threads,
                ["prompt_tokens"] = settings.PromptTokens,
                ["gen_tokens"] = settings.GenTokens,
                ["decode_prompt_tokens"] = settings.DecodePromptTokens,
                ["repetitions"] = settings.Repetitions,
                ["seed"] = settings.Seed,
                ["prefill_tokens_per_s"] = Rate(measured.Prefill?.Median),
                ["prefill_tokens_per_s_min"] = Rate(measured.Prefill?.Min),
                ["prefill_tokens_per_s_max"] = Rate(measured.Prefill?.Max),
                ["prefill_tokens_per_s_runs"] = measured.Prefill is { } p ? BenchJson.Array(p.Values) : null,
                ["decode_tokens_per_s"] = Rate(decodeRate),
                ["decode_tokens_per_s_min"] = Rate(measured.Decode?.Min),
                ["decode_tokens_per_s_max"] = Rate(measured.Decode?.Max),
                ["decode_tokens_per_s_runs"] = measured.Decode is { } d ? BenchJson.Array(d.Values) : null,
                ["prefill_other_cpu_runs"] = BenchJson.Shares(measured.PrefillOtherCpu),
                ["decode_other_cpu_runs"] = BenchJson.Shares(measured.DecodeOtherCpu),
                ["weight_bytes_per_token"] = traffic.BytesPerToken,
                ["linear_weight_bytes_by_type"] = new JsonObject(traffic.LinearBytesByType.Select(kv => KeyValuePair.Create(kv.Key.ToSafeTensors(), (JsonNode?)kv.Value))),
                ["decode_weight_bytes_per_s"] = decodeRate is { } rate ? Math.Round(traffic.BytesPerToken * rate) : null,
                ["kv_cache_bytes_per_token"] = summary.KvBytesPerToken,
                ["peak_rss_bytes"] = peakRss,
                ["anon_huge_page_bytes"] = BenchmarkProcess.AnonymousHugePageBytes(),
                ["load_average_start"] = loadBefore,
                ["load_average_end"] = loadAfter,
                ["device"] = session.Transformer.Device,
                ["decode_batch_tokens_per_s"] = new JsonObject(measured.BatchDecode.Select(b => KeyValuePair.Create(b.Batch.ToString(CultureInfo.InvariantCulture), (JsonNode?)Math.Round(b.TokensPerSecond.Median, 3)))),
                ["decode_batch_tokens_per_s_runs"] = new JsonObject(measured.BatchDecode.Select(b => KeyValuePair.Create(b.Batch.ToString(CultureInfo.InvariantCulture), (JsonNode?)BenchJson.Array(b.TokensPerSecond.Values)))),
                ["gpu"] = gpuReport,
                ["fathom_version"] = BenchJson.Version(),
                ["machine"] = BenchJson.Machine(machine),
            };

            if (!result.GetValue(json))
            {
                PrintTable(console, report, measured, traffic, machine, threads);
            }

            BenchJson.Emit(report, result.GetValue(json), result.GetValue(output), console);
            return 0;
        });
        return command;
    }

    private static void PrintTable(CliConsole console, JsonObject report, BenchmarkResult measured, BenchmarkWeightTraffic traffic, BenchmarkMachine machine, int threads)
    {
        var o = console.Out;
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(inv, $"model      {report["model"]} ({report["model_type"]}, {report["layers"]} layers, {(long)report["parameters"]! / 1e9:F3} B parameters)"));
        o.WriteLine(string.Create(inv, $"format     {report["format"]}, --load {report["load"]}, {report["backend"]} backend, {report["activations"]} activations, {threads} threads"));
        o.WriteLine(string.Create(inv, $"machine    {machine.Cpu}, {machine.LogicalCores} cores, {machine.VectorBits}-bit vectors, {machine.MemoryBytes / (double)(1L << 30):F1} GiB, {machine.Runtime}"));
        if (measured.Prefill is { } p)
        {
            o.WriteLine(string.Create(inv, $"prefill    {measured.Settings.PromptTokens} tokens: {p.Median:F2} tok/s median (min {p.Min:F2}, max {p.Max:F2}) over {p.Values.Count}"));
        }

        foreach (var b in measured.BatchDecode)
        {
            o.WriteLine(string.Create(inv, $"decode     batch {b.Batch}: {b.TokensPerSecond.Median:F2} tok/s median over {b.TokensPerSecond.Values.Count}"));
        }

        if (report["gpu"] is JsonObject g)
        {
            o.WriteLine(string.Create(inv, $"gpu        {report["device"]}: weights {(long)g["weight_bytes"]! / (double)(1L << 30):F2} GiB, device used {(long)g["device_used_bytes"]! / (double)(1L << 30):F2} GiB; copy {(double)g["copy_bytes_per_s"]! / 1e9:F0} GB/s -> floor {g["hbm_floor_tokens_per_s"]} tok/s, decode at {g["decode_fraction_of_floor"]} of it"));
        }

        if (measured.Decode is { } d)
        {
            o.WriteLine(string.Create(inv, $"decode     {measured.Settings.GenTokens} tokens: {d.Median:F2} tok/s median (min {d.Min:F2}, max {d.Max:F2}) over {d.Values.Count}"));
            o.WriteLine(string.Create(inv, $"weights    {traffic.BytesPerToken / 1e9:F3} GB read per decoded token: {traffic.BytesPerToken * d.Median / 1e9:F1} GB/s at the median decode rate"));
        }
        else
        {
            o.WriteLine(string.Create(inv, $"weights    {traffic.BytesPerToken / 1e9:F3} GB read per decoded token"));
        }

        o.WriteLine(string.Create(inv, $"peak RSS   {(long)report["peak_rss_bytes"]! / (double)(1L << 30):F2} GiB"));
        o.WriteLine($"load avg   {report["load_average_start"]} -> {report["load_average_end"]}");
    }

    private static int[] ParseBatches(string text)
    {
        var sizes = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            sizes.Add(int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int b) && b >= 1
                ? b
                : throw new CliException($"--batch takes positive integers separated by commas (got '{text}')"));
        }

        return sizes.Count > 0 ? [.. sizes] : throw new CliException("--batch names no batch size");
    }

    /// <summary>Device memory and the HBM floor: active weight bytes per token over the measured copy bandwidth.</summary>
    private static JsonObject GpuReport(Fathom.Backends.Cuda.CudaTransformer gpu, long bytesPerToken, double? decodeRate)
    {
        var memory = gpu.Memory();
        double copy = gpu.MeasureCopyBandwidth();
        double floor = copy / bytesPerToken;
        return new JsonObject
        {
            ["name"] = gpu.DeviceName,
            ["nvrtc"] = gpu.NvrtcVersion,
            ["weight_bytes"] = memory.WeightBytes,
            ["kv_cache_bytes"] = memory.KvCacheBytes,
            ["scratch_bytes"] = memory.ScratchBytes,
            ["device_used_bytes"] = memory.DeviceUsedBytes,
            ["device_total_bytes"] = memory.DeviceTotalBytes,
            ["copy_bytes_per_s"] = Math.Round(copy),
            ["hbm_floor_tokens_per_s"] = Math.Round(floor, 1),
            ["decode_fraction_of_floor"] = decodeRate is { } r ? Math.Round(r / floor, 3) : null,
        };
    }

    /// <summary>A --quantize format the loader cannot produce yet is a user-facing refusal, not a crash.</summary>
    private static ModelSession Open(ModelOptions options)
    {
        try
        {
            return ModelSession.Open(options);
        }
        catch (NotSupportedException e)
        {
            throw new CliException($"bench: {e.Message}");
        }
    }

    private static JsonNode? Rate(double? value) => value is { } v ? Math.Round(v, 3) : null;

    private static string LoadName(WeightResidency residency) => residency == WeightResidency.InMemory ? "memory" : "mmap";

    /// <summary>The names llama.cpp users know: bf16, fp8, q8_0, q4_k.</summary>
    internal static string FormatName(DType type) => type switch
    {
        DType.F8E4M3 => "fp8",
        DType.Q8_0 => "q8_0",
        DType.Q4K => "q4_k",
        _ => type.ToSafeTensors().ToLowerInvariant(),
    };
}
