using Fathom.Cli.Commands;
using Xunit;

namespace Fathom.Cli.Tests;

public sealed class ServeCommandTests
{
    [Theory]
    [InlineData("512MiB", 512L << 20)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("1G", 1L << 30)]
    [InlineData("1.5g", 3L << 29)]
    [InlineData("64 M", 64L << 20)]
    [InlineData("1000000", 1_000_000)]
    [InlineData("2GB", 2_000_000_000)]
    public void SizesParseWithBinaryAndDecimalUnits(string text, long bytes) => Assert.Equal(bytes, ServeCommand.ParseSize(text, "--kv-cache-memory"));

    [Theory]
    [InlineData("lots")]
    [InlineData("-1G")]
    [InlineData("12 parsecs")]
    [InlineData("")]
    public void BadSizesNameTheOption(string text) =>
        Assert.Contains("--kv-cache-memory", Assert.Throws<CliException>(() => ServeCommand.ParseSize(text, "--kv-cache-memory")).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("--kv-cache-memory", "lots", "--kv-cache-memory")]
    [InlineData("--max-batch", "0", "max-batch")]
    [InlineData("--port", "70000", "--port")]
    [InlineData("--max-context", "1", "max-context")]
    public void BadServeOptionsFailBeforeListening(string option, string value, string named)
    {
        var run = CliRun.Invoke("serve", option, value);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(named, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void BenchServeReportsAnUnreachableServer()
    {
        var run = CliRun.Invoke("bench-serve", "--url", "http://127.0.0.1:9", "--requests", "1", "--prompt-tokens", "2", "--gen-tokens", "1");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("cannot reach", run.Error, StringComparison.Ordinal);
    }
}
