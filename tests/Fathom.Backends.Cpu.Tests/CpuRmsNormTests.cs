using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>CpuBackend.RmsNorm agrees with the reference row by row, also in place.</summary>
public sealed class CpuRmsNormTests
{
    [Fact]
    public void MatchesTheReference()
    {
        using var cpu = new CpuBackend(2);
        var reference = new ReferenceBackend();
        foreach (int width in WeightLayouts.Widths)
        {
            foreach (int rows in WeightLayouts.Tokens)
            {
                var x = VectorData.Uniform(rows * width, -3, 3, seed: width + rows);
                var weight = VectorData.Uniform(width, 0.5, 1.5, seed: width);
                var expected = new float[x.Length];
                var actual = new float[x.Length];
                reference.RmsNorm(x, weight, 1e-6f, expected);
                cpu.RmsNorm(x, weight, 1e-6f, actual);
                Tolerance.AssertRelative(expected, actual, (width + 8) * 2 * Tolerance.Unit, 0, $"width {width}, {rows} rows");

                cpu.RmsNorm(x, weight, 1e-6f, x);
                Tolerance.AssertRelative(expected, x, (width + 8) * 2 * Tolerance.Unit, 0, $"in place, width {width}, {rows} rows");
            }
        }
    }

    [Fact]
    public void EpsilonKeepsAZeroRowFinite()
    {
        using var cpu = new CpuBackend(2);
        var y = new float[4];
        cpu.RmsNorm(new float[4], [1, 1, 1, 1], 1e-6f, y);
        Assert.All(y, v => Assert.Equal(0f, v));
    }
}
