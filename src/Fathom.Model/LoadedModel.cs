namespace Fathom.Model;

/// <summary>A model folder opened for inference: its config, its mapped checkpoint and the typed weight views.</summary>
public sealed class LoadedModel : IDisposable
{
    private LoadedModel(string directory, ModelConfig config, Checkpoint checkpoint, ModelWeights weights, LoadOptions options)
    {
        Options = options;
        Directory = directory;
        Config = config;
        Checkpoint = checkpoint;
        Weights = weights;
    }

    public string Directory { get; }

    public ModelConfig Config { get; }

    public Checkpoint Checkpoint { get; }

    public ModelWeights Weights { get; }

    public LoadOptions Options { get; }

    /// <summary>Reads config.json and maps the safetensors of <paramref name="directory"/>, validating every tensor.</summary>
    public static LoadedModel Load(string directory, LoadOptions? options = null)
    {
        options ??= LoadOptions.Default;
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        var checkpoint = Checkpoint.Open(directory, options.Residency);
        try
        {
            var weights = WeightLoader.Load(checkpoint, config);
            if (options.Quantize is { } target)
            {
                weights = ModelQuantizer.Apply(weights, config, target, options.Progress);
            }

            return new LoadedModel(directory, config, checkpoint, weights, options);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    public void Dispose() => Checkpoint.Dispose();
}
