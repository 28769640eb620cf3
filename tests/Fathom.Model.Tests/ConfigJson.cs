using System.Text.Json.Nodes;
using Fathom.Model;
using Fathom.TestSupport;

namespace Fathom.Model.Tests;

/// <summary>A golden case's config.json as an editable JSON object, written to a temporary folder to be loaded.</summary>
internal sealed class ConfigJson : IDisposable
{
    private readonly TempDirectory _temp = new();

    public ConfigJson(string goldenCase = "tiny-v3")
    {
        Root = JsonNode.Parse(File.ReadAllText(System.IO.Path.Combine(TestPaths.GoldenCase(goldenCase), "model", "config.json")))!.AsObject();
    }

    public JsonObject Root { get; }

    public string Path => _temp.File("config.json");

    /// <summary>Sets a top-level field to raw JSON, or removes it when <paramref name="json"/> is null.</summary>
    public ConfigJson Set(string field, string? json)
    {
        if (json is null)
        {
            Root.Remove(field);
        }
        else
        {
            Root[field] = JsonNode.Parse(json);
        }

        return this;
    }

    public ModelConfig Load()
    {
        File.WriteAllText(Path, Root.ToJsonString());
        return ModelConfig.Load(Path);
    }

    public void Dispose() => _temp.Dispose();
}
