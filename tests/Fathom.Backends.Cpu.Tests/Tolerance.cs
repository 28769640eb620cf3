using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>Error bounds for float32 results compared with the double-accumulating reference.</summary>
internal static class Tolerance
{
    /// <summary>The float32 unit roundoff, 2^-24.</summary>
    public const double Unit = 1.0 / (1 << 24);

    /// <summary>
    /// A float32 sum of n products in any order is within γ(n)·Σ|xᵢwᵢ| of the exact value (γ(n) ≈ n·u), and the
    /// reference adds one final rounding; twice that leaves room without hiding a wrong or missing term.
    /// </summary>
    public static double Dot(int length, double absoluteSum) => 2 * (length + 2) * Unit * absoluteSum;

    public static void AssertWithin(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, Func<int, double> bound, string context)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs((double)actual[i] - expected[i]);
            if (!(error <= bound(i)) && !(expected[i] == actual[i]))
            {
                Assert.Fail($"{context}: element {i}: {actual[i]:R} vs reference {expected[i]:R} (error {error:E3} > bound {bound(i):E3})");
            }
        }
    }

    /// <summary>Relative error at most <paramref name="relative"/> (plus <paramref name="absolute"/>) per element.</summary>
    public static void AssertRelative(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double relative, double absolute, string context)
    {
        var e = expected.ToArray();
        AssertWithin(expected, actual, i => (relative * Math.Abs(e[i])) + absolute, context);
    }
}
