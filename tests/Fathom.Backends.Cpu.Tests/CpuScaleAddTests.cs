using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>CpuBackend.ScaleAdd (y += a · x) agrees with the reference.</summary>
public sealed class CpuScaleAddTests
{
    [Theory]
    [InlineData(1f)]
    [InlineData(-0.37f)]
    [InlineData(2.5f)]
    [InlineData(0f)]
    public void MatchesTheReference(float a)
    {
        using var cpu = new CpuBackend(2);
        var reference = new ReferenceBackend();
        foreach (int n in VectorData.Lengths)
        {
            var x = VectorData.Uniform(n, -4, 4, seed: n);
            var y0 = VectorData.Uniform(n, -4, 4, seed: n + 1);
            var expected = y0.ToArray();
            var actual = y0.ToArray();
            reference.ScaleAdd(x, a, expected);
            cpu.ScaleAdd(x, a, actual);
            // One rounding of y + a·x each, or two without a fused multiply-add.
            Tolerance.AssertWithin(expected, actual, i => 2 * Tolerance.Unit * (Math.Abs(y0[i]) + Math.Abs(a * x[i])), $"a = {a}, length {n}");
        }
    }

    [Fact]
    public void AddsToTheExistingValues()
    {
        using var cpu = new CpuBackend(2);
        float[] y = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        cpu.ScaleAdd([1, 1, 1, 1, 1, 1, 1, 1, 1], 0.5f, y);
        Assert.Equal([1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f, 8.5f, 9.5f], y);
    }
}
