using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>CpuBackend.RopeInterleaved rotates each (x[2i], x[2i+1]) pair as the reference does.</summary>
public sealed class CpuRopeInterleavedTests
{
    [Fact]
    public void MatchesTheReference()
    {
        using var cpu = new CpuBackend(2);
        var reference = new ReferenceBackend();
        foreach (int pairs in new[] { 1, 2, 3, 4, 7, 8, 9, 16, 17, 32, 33 })
        {
            var x = VectorData.Uniform(2 * pairs, -3, 3, seed: pairs);
            var angles = VectorData.Uniform(pairs, -50, 50, seed: pairs + 1);
            var cos = angles.Select(MathF.Cos).ToArray();
            var sin = angles.Select(MathF.Sin).ToArray();
            var expected = x.ToArray();
            reference.RopeInterleaved(expected, cos, sin);
            var actual = x.ToArray();
            cpu.RopeInterleaved(actual, cos, sin);
            Tolerance.AssertWithin(expected, actual, i => 4 * Tolerance.Unit * (Math.Abs(x[i & ~1]) + Math.Abs(x[i | 1])), $"{pairs} pairs");
        }
    }

    [Fact]
    public void PairsAreAdjacentElements()
    {
        using var cpu = new CpuBackend(2);
        // A quarter turn maps (a, b) to (-b, a); the identity leaves the second pair alone.
        float[] x = [1, 2, 3, 4];
        cpu.RopeInterleaved(x, [0, 1], [1, 0]);
        Assert.Equal([-2f, 1f, 3f, 4f], x);
    }
}
