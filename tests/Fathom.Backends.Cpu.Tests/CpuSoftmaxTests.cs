using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>CpuBackend.Softmax agrees with the reference; entries of -∞ (masked positions) get exactly 0.</summary>
public sealed class CpuSoftmaxTests
{
    [Fact]
    public void MatchesTheReference()
    {
        using var cpu = new CpuBackend(2);
        var reference = new ReferenceBackend();
        foreach (int n in VectorData.Lengths)
        {
            var x = VectorData.Uniform(n, -10, 10, seed: n);
            var expected = x.ToArray();
            reference.Softmax(expected);
            cpu.Softmax(x);
            Tolerance.AssertRelative(expected, x, 1e-6 + ((n + 4) * 2 * Tolerance.Unit), 1e-30, $"length {n}");
            Assert.Equal(1.0, x.Sum(v => (double)v), 1e-5);
        }
    }

    [Fact]
    public void NegativeInfinityGetsProbabilityZero()
    {
        using var cpu = new CpuBackend(2);
        var reference = new ReferenceBackend();
        foreach (int n in VectorData.Lengths.Where(n => n >= 2))
        {
            var x = VectorData.Uniform(n, -10, 10, seed: n);
            for (int i = 1; i < n; i += 3)
            {
                x[i] = float.NegativeInfinity;
            }

            var expected = x.ToArray();
            reference.Softmax(expected);
            cpu.Softmax(x);
            for (int i = 1; i < n; i += 3)
            {
                Assert.Equal(0f, x[i]);
            }

            Tolerance.AssertRelative(expected, x, 1e-6 + ((n + 4) * 2 * Tolerance.Unit), 1e-30, $"length {n} with -inf entries");
        }
    }

    [Fact]
    public void LargeLogitsDoNotOverflow()
    {
        using var cpu = new CpuBackend(2);
        float[] x = [1000f, 1000f, float.NegativeInfinity, 999f];
        cpu.Softmax(x);
        double e = Math.Exp(-1);
        Assert.Equal(1 / (2 + e), x[0], 1e-6);
        Assert.Equal(1 / (2 + e), x[1], 1e-6);
        Assert.Equal(0f, x[2]);
        Assert.Equal(e / (2 + e), x[3], 1e-6);
    }
}
