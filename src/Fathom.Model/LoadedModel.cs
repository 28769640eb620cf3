namespace Fathom.Model;

/// <summary>A model folder opened for inference: its config, its mapped checkpoint and the typed weight views.</summary>
public sealed class LoadedModel : IDisposable
{
    private LoadedModel(string directory, ModelConfig config, Checkpoint checkpoint, ModelWeights weights)
    {
        Directory = directory;
        Config = config;
        Checkpoint = checkpoint;
        Weights = weights;
    }

    public string Directory { get; }

    public ModelConfig Config { get; }

    public Checkpoint Checkpoint { get; }

    public ModelWeights Weights { get; }

    /// <summary>Reads config.json and maps the safetensors of <paramref name="directory"/>, validating every tensor.</summary>
    public static LoadedModel Load(string directory)
    {
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        var checkpoint = Checkpoint.Open(directory);
        try
        {
            return new LoadedModel(directory, config, checkpoint, WeightLoader.Load(checkpoint, config));
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    public void Dispose() => Checkpoint.Dispose();
}
