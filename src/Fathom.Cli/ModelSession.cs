using Fathom.Backends.Cpu;
using Fathom.Backends.Cuda;
using Fathom.Core;
using Fathom.Engine;
using Fathom.Model;
using Fathom.Tokenizer;

namespace Fathom.Cli;

/// <summary>The composition root of the model commands: the loaded model, its backend, tokenizer and generator.</summary>
public sealed class ModelSession : IDisposable
{
    private readonly IDisposable? _backendLifetime;

    private ModelSession(string directory, LoadedModel model, IBackend? backend, IForwardPass forward, TextTokenizer? tokenizer)
    {
        Directory = directory;
        Model = model;
        Backend = backend;
        _backendLifetime = (backend as IDisposable) ?? (forward as IDisposable);
        Tokenizer = tokenizer;
        Transformer = forward;
        Generator = new Generator(Transformer, tokenizer);
    }

    public string Directory { get; }

    public LoadedModel Model { get; }

    /// <summary>The host compute backend (null when the pass runs on a GPU).</summary>
    public IBackend? Backend { get; }

    public TextTokenizer? Tokenizer { get; }

    /// <summary>The forward pass: the host <see cref="Model.Transformer"/> or a GPU one.</summary>
    public IForwardPass Transformer { get; }

    public Generator Generator { get; }

    public static ModelSession Open(ModelOptions options, bool needTokenizer = false, string tokenizerAlternative = "")
    {
        string directory = ModelLocator.ResolveModel(options.Model);
        var tokenizer = ModelLocator.LoadTokenizer(options.Tokenizer, directory);
        if (needTokenizer)
        {
            ModelLocator.RequireTokenizer(tokenizer, directory, tokenizerAlternative);
        }

        if (options.Device.IsCuda)
        {
            if (options.Load.Quantize is { } format && format != DType.F8E4M3)
            {
                throw new CliException("--quantize q8_0 and q4_k make GGML blocks for the CPU kernels; on a GPU, run the checkpoint's own BF16 or FP8 weights, or --quantize fp8");
            }

            // The weights are copied to the GPU once: mapping the files avoids a second copy in RAM.
            var mapped = LoadedModel.Load(directory, options.Load with { Residency = WeightResidency.Mapped });
            try
            {
                var gpu = new CudaTransformer(mapped, GpuOptions(options));
                return new ModelSession(directory, mapped, null, gpu, tokenizer);
            }
            catch
            {
                mapped.Dispose();
                throw;
            }
        }

        var load = options.AutoResidency ? options.Load with { Residency = ResidencyChoice.For(directory) } : options.Load;
        var model = LoadedModel.Load(directory, load);
        IBackend backend = options.Backend switch
        {
            "cpu" => new CpuBackend(options.Threads),
            "reference" => new ReferenceBackend(),
            _ => throw new CliException($"--backend must be cpu or reference (got '{options.Backend}')"),
        };
        return new ModelSession(directory, model, backend, new Transformer(model, backend), tokenizer);
    }

    /// <summary>GPU placement from the options and the environment (CUDA_HOME for the toolkit, XDG_CACHE_HOME for compiled kernels, FATHOM_CUDA_MMA_MAX_TOKENS).</summary>
    internal static CudaOptions GpuOptions(ModelOptions options)
    {
        var folders = new List<string>();
        foreach (string variable in new[] { "CUDA_HOME", "CUDA_PATH" })
        {
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } home)
            {
                folders.Add(Path.Combine(home, "lib64"));
                folders.Add(Path.Combine(home, "lib"));
            }
        }

        string cacheHome = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        var layout = options.GpuCache;
        return new CudaOptions
        {
            KvCacheBytes = layout?.Bytes,
            PageTokens = layout?.PageTokens ?? new CudaOptions().PageTokens,
            MaxSequences = layout?.MaxSequences ?? new CudaOptions().MaxSequences,
            Device = options.Device.Ordinal,
            Bf16Activations = options.Bf16Activations,
            LibraryFolders = folders,
            KernelCacheFolder = Path.Combine(cacheHome, "fathom", "kernels"),
            // FATHOM_CUDA_MMA_MAX_TOKENS=0 turns the tensor-core streaming kernels off (for comparisons).
            TensorCoreStreamingMaxTokens = int.TryParse(Environment.GetEnvironmentVariable("FATHOM_CUDA_MMA_MAX_TOKENS"), out int mma)
                ? mma
                : new CudaOptions().TensorCoreStreamingMaxTokens,
        };
    }

    public void Dispose()
    {
        _backendLifetime?.Dispose();
        Model.Dispose();
    }
}
