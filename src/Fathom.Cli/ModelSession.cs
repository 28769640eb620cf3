using Fathom.Backends.Cpu;
using Fathom.Core;
using Fathom.Engine;
using Fathom.Model;
using Fathom.Tokenizer;

namespace Fathom.Cli;

/// <summary>The composition root of the model commands: the loaded model, its backend, tokenizer and generator.</summary>
public sealed class ModelSession : IDisposable
{
    private readonly IDisposable? _backendLifetime;

    private ModelSession(string directory, LoadedModel model, IBackend backend, TextTokenizer? tokenizer)
    {
        Directory = directory;
        Model = model;
        Backend = backend;
        _backendLifetime = backend as IDisposable;
        Tokenizer = tokenizer;
        Transformer = new Transformer(model, backend);
        Generator = new Generator(Transformer, tokenizer);
    }

    public string Directory { get; }

    public LoadedModel Model { get; }

    public IBackend Backend { get; }

    public TextTokenizer? Tokenizer { get; }

    public Transformer Transformer { get; }

    public Generator Generator { get; }

    public static ModelSession Open(ModelOptions options, bool needTokenizer = false, string tokenizerAlternative = "")
    {
        string directory = ModelLocator.ResolveModel(options.Model);
        var tokenizer = ModelLocator.LoadTokenizer(options.Tokenizer, directory);
        if (needTokenizer)
        {
            ModelLocator.RequireTokenizer(tokenizer, directory, tokenizerAlternative);
        }

        var load = options.AutoResidency ? options.Load with { Residency = ResidencyChoice.For(directory) } : options.Load;
        var model = LoadedModel.Load(directory, load);
        IBackend backend = options.Backend switch
        {
            "cpu" => new CpuBackend(options.Threads),
            "reference" => new ReferenceBackend(),
            _ => throw new CliException($"--backend must be cpu or reference (got '{options.Backend}')"),
        };
        return new ModelSession(directory, model, backend, tokenizer);
    }

    public void Dispose()
    {
        _backendLifetime?.Dispose();
        Model.Dispose();
    }
}
