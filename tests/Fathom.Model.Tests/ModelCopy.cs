using System.Text.Json.Nodes;
using Fathom.TestSupport;

namespace Fathom.Model.Tests;

/// <summary>A golden tiny model folder copied to a temporary folder, to be damaged or rearranged by a test.</summary>
internal sealed class ModelCopy : IDisposable
{
    private readonly TempDirectory _temp = new();

    public ModelCopy(string goldenCase)
    {
        string source = Path.Combine(TestPaths.GoldenCase(goldenCase), "model");
        foreach (string file in System.IO.Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(Directory, Path.GetFileName(file)));
        }
    }

    public string Directory => _temp.Path;

    public string ConfigPath => Path.Combine(Directory, "config.json");

    public string WeightsPath => Path.Combine(Directory, "model.safetensors");

    /// <summary>Rewrites model.safetensors after <paramref name="edit"/> has changed its list of tensors.</summary>
    public void EditTensors(Action<List<TensorBytes>> edit)
    {
        var tensors = SafeTensorsBuilder.Read(WeightsPath);
        edit(tensors);
        SafeTensorsBuilder.Write(WeightsPath, tensors);
    }

    /// <summary>Replaces the tensor called <paramref name="name"/>.</summary>
    public void ReplaceTensor(string name, Func<TensorBytes, TensorBytes> replace) =>
        EditTensors(list =>
        {
            int i = list.FindIndex(t => t.Name == name);
            if (i < 0)
            {
                throw new InvalidOperationException($"the golden model has no tensor '{name}'");
            }

            list[i] = replace(list[i]);
        });

    public void RemoveTensor(string name) =>
        EditTensors(list =>
        {
            if (list.RemoveAll(t => t.Name == name) != 1)
            {
                throw new InvalidOperationException($"the golden model has no tensor '{name}'");
            }
        });

    public void EditConfig(Action<JsonObject> edit)
    {
        var config = JsonNode.Parse(File.ReadAllText(ConfigPath))!.AsObject();
        edit(config);
        File.WriteAllText(ConfigPath, config.ToJsonString());
    }

    public void Dispose() => _temp.Dispose();
}
