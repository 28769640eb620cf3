using System.CommandLine;
using Fathom.Core;
using Fathom.Model;

namespace Fathom.Cli;

/// <summary>The shared model options; with <paramref name="AutoResidency"/> the residency is chosen per model by <see cref="ResidencyChoice"/>.</summary>
public sealed record ModelOptions(string? Model, string? Tokenizer, int Threads, string Backend, LoadOptions Load, bool AutoResidency = false)
{
    /// <summary>Where the forward pass runs: cpu, or a CUDA device.</summary>
    public DeviceChoice Device { get; init; } = DeviceChoice.Cpu;

    /// <summary>On a GPU: tensor-core products on bf16 pairs for large passes (fast path) or float32 streaming throughout.</summary>
    public bool Bf16Activations { get; init; } = true;

    /// <summary>
    /// On a GPU: how the device latent cache is laid out when a command keeps its own page accounting
    /// (serve sizes it to its KV budget and page size); null keeps the pass's defaults.
    /// </summary>
    public GpuCacheLayout? GpuCache { get; init; }
}

/// <summary>
/// The shared options, added to each command that loads a model. With a console, a load that quantizes
/// (`--quantize`) draws its progress there.
/// </summary>
public sealed class ModelOptionSet(CliConsole? console = null)
{
    public Option<string?> Model { get; } = new("--model", "-m") { Description = $"Model folder (config.json + safetensors). Default: the bundled {ModelLocator.BundledModel}." };

    public Option<string?> Tokenizer { get; } = new("--tokenizer") { Description = "Folder with tokenizer.json (default: the model folder)." };

    public Option<int> Threads { get; } = new("--threads", "-t") { Description = "Worker threads (default: all cores).", DefaultValueFactory = _ => 0 };

    public Option<string> Backend { get; } = new("--backend") { Description = "cpu (vectorised, float32) or reference (plain loops, float64 accumulation).", DefaultValueFactory = _ => "cpu" };

    public Option<string?> Quantize { get; } = new("--quantize", "-q") { Description = "Quantize linear weights at load time: q8_0 or q4_k (GGML block layouts), or fp8 (e4m3 in 128x128 scale blocks, as DeepSeek ships; FP8 weights are kept)." };

    public Option<string> Device { get; } = new("--device") { Description = "cpu, or cuda[:N] to run on NVIDIA GPU N (weights, activations and the KV cache on the GPU).", DefaultValueFactory = _ => "cpu" };

    public Option<string> Activations { get; } = new("--activations") { Description = "On a GPU: bf16 (the default: tensor-core products for passes of 32+ rows, activations carried as bfloat16 pairs: about twice the prefill rate) or f32 (float32 throughout, the exact path).", DefaultValueFactory = _ => "bf16" };

    public Option<string> Load { get; } = new("--load") { Description = "memory (read the weights into RAM once: steadier and faster), mmap (map the files: for models larger than RAM), or auto (memory when the files fit comfortably in available RAM).", DefaultValueFactory = _ => "auto" };

    public void AddTo(Command command)
    {
        command.Options.Add(Quantize);
        command.Options.Add(Load);
        command.Options.Add(Model);
        command.Options.Add(Tokenizer);
        command.Options.Add(Threads);
        command.Options.Add(Backend);
        command.Options.Add(Device);
        command.Options.Add(Activations);
    }

    /// <summary>A progress line for the load-time quantization, ended when it reports its last row.</summary>
    private static SynchronousProgress<QuantizationProgress> LoadProgress(CliConsole console)
    {
        var bar = new ProgressLine(console);
        return new SynchronousProgress<QuantizationProgress>(p =>
        {
            bar.Show(p.Stage, p.Done, p.Total);
            if (p.Done >= p.Total)
            {
                bar.End();
            }
        });
    }

    public ModelOptions Read(ParseResult result)
    {
        string load = result.GetValue(Load) ?? "auto";
        return new(
        result.GetValue(Model),
        result.GetValue(Tokenizer),
        result.GetValue(Threads) is var t && t >= 0 ? t : throw new CliException($"--threads must be ≥ 0 (got {t})"),
        result.GetValue(Backend) ?? "cpu",
        new LoadOptions
        {
            Quantize = result.GetValue(Quantize) switch
            {
                null => null,
                "q8_0" => DType.Q8_0,
                "q4_k" => DType.Q4K,
                "fp8" => DType.F8E4M3,
                var other => throw new CliException($"--quantize must be q8_0, q4_k or fp8 (got '{other}')"),
            },
            Residency = load switch
            {
                "auto" or "mmap" => WeightResidency.Mapped,
                "memory" => WeightResidency.InMemory,
                _ => throw new CliException($"--load must be auto, memory or mmap (got '{load}')"),
            },
            Progress = console is null ? null : LoadProgress(console),
        },
        AutoResidency: load == "auto")
        {
            Device = DeviceChoice.Parse(result.GetValue(Device) ?? "cpu"),
            Bf16Activations = (result.GetValue(Activations) ?? "bf16") switch
            {
                "bf16" => true,
                "f32" => false,
                var other => throw new CliException($"--activations must be bf16 or f32 (got '{other}')"),
            },
        };
    }
}
