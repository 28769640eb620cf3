using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Cli.Tests;

public sealed class ResidencyChoiceTests
{
    private static readonly string TinyV3 = Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model");

    [Fact]
    public void WeightsThatFitComfortablyAreReadIntoMemory()
    {
        long files = new FileInfo(Path.Combine(TinyV3, "model.safetensors")).Length;
        Assert.Equal(WeightResidency.InMemory, ResidencyChoice.For(TinyV3, availableBytes: files * 2));
    }

    [Fact]
    public void WeightsLargerThanMostOfTheAvailableMemoryAreMapped()
    {
        long files = new FileInfo(Path.Combine(TinyV3, "model.safetensors")).Length;
        Assert.Equal(WeightResidency.Mapped, ResidencyChoice.For(TinyV3, availableBytes: files));
    }

    [Fact]
    public void TheDefaultLoadsTheBundledModelIntoMemoryAndBenchReportsIt()
    {
        var run = CliRun.Invoke("bench", "--model", TinyV3, "-p", "8", "-n", "4", "-r", "1", "--json");
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("\"load\":\"memory\"", run.Out, StringComparison.Ordinal);
        var mapped = CliRun.Invoke("bench", "--model", TinyV3, "-p", "8", "-n", "4", "-r", "1", "--json", "--load", "mmap");
        Assert.Contains("\"load\":\"mmap\"", mapped.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownLoadModeIsNamed()
    {
        var run = CliRun.Invoke("generate", "--model", TinyV3, "--prompt-ids", "[1]", "--load", "disk");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--load", run.Error, StringComparison.Ordinal);
    }
}
