namespace Fathom.TestSupport;

/// <summary>Locates the repository's test data from a test assembly's output folder.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> Root = new(FindRoot);

    /// <summary>The repository root (the folder holding Fathom.slnx).</summary>
    public static string RepositoryRoot => Root.Value;

    /// <summary>tests/TestData.</summary>
    public static string TestData => Path.Combine(RepositoryRoot, "tests", "TestData");

    /// <summary>A golden tiny checkpoint case folder, e.g. "tiny-v3".</summary>
    public static string GoldenCase(string name) => Path.Combine(TestData, name);

    /// <summary>The DeepSeek-V3 tokenizer folder (tokenizer.json + tokenizer_config.json).</summary>
    public static string DeepSeekV3Tokenizer => Path.Combine(TestData, "tokenizer", "deepseek-v3");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Fathom.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Fathom.slnx not found above {AppContext.BaseDirectory}.");
    }
}

/// <summary>A temporary folder removed when disposed.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fathom-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
