using Fathom.Core;
using Fathom.Core.Tests;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>CpuBackend.MatMul (y = x · Wᵀ) agrees with the reference for every weight layout and size.</summary>
public sealed class CpuMatMulTests
{
    private readonly ReferenceBackend _reference = new();

    public static TheoryData<string, int, string> Cases() => FloatPaths.LayoutCases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReference(string layout, int threads, string path)
    {
        using var cpu = FloatPaths.Backend(threads, path);
        for (int i = 0; i < WeightLayouts.Widths.Length; i++)
        {
            for (int j = 0; j < WeightLayouts.Tokens.Length; j++)
            {
                int cols = WeightLayouts.Widths[i], tokens = WeightLayouts.Tokens[j];
                int outs = WeightLayouts.Heights[(i + j) % WeightLayouts.Heights.Length];
                int seed = (1000 * i) + j;
                var w = WeightLayouts.Create(layout, outs, cols, seed);
                var x = TestMatrix.Activations(tokens * cols, seed + 7);
                var expected = new float[tokens * outs];
                var actual = new float[tokens * outs];
                actual.AsSpan().Fill(float.NaN);
                _reference.MatMul(w.W, x, expected, tokens);
                cpu.MatMul(w.W, x, actual, tokens);

                var bounds = new double[tokens * outs];
                for (int r = 0; r < tokens; r++)
                {
                    for (int o = 0; o < outs; o++)
                    {
                        double exact = 0, absolute = 0;
                        for (int c = 0; c < cols; c++)
                        {
                            double term = (double)x[(r * cols) + c] * w[o, c];
                            exact += term;
                            absolute += Math.Abs(term);
                        }

                        bounds[(r * outs) + o] = Tolerance.Dot(cols, absolute);
                        // The oracle itself: within one float32 rounding of the exact product.
                        Assert.True(Math.Abs(expected[(r * outs) + o] - exact) <= (Tolerance.Unit * Math.Abs(exact)) + (1e-14 * absolute), $"reference wrong at {r},{o}");
                    }
                }

                Tolerance.AssertWithin(expected, actual, k => bounds[k], $"{layout} [{outs}, {cols}] x {tokens} tokens, {threads} threads, {path}");
            }
        }
    }

    [Fact]
    public void WritesOnlyItsOutputRows()
    {
        using var cpu = new CpuBackend(2);
        var w = WeightLayouts.Create("BF16", 130, 64, seed: 1);
        var x = TestMatrix.Activations(3 * 64, seed: 2);
        var y = new float[(3 * 130) + 5];
        y.AsSpan().Fill(42f);
        cpu.MatMul(w.W, x, y, 3);
        Assert.All(y[^5..], v => Assert.Equal(42f, v));
        Assert.DoesNotContain(42f, y[..^5]);
    }

    [Fact]
    public void ShortBuffersAreRejected()
    {
        using var cpu = new CpuBackend(2);
        var w = WeightLayouts.Create("F32", 4, 8, seed: 1);
        Assert.Throws<ArgumentException>(() => cpu.MatMul(w.W, new float[15], new float[8], 2));
        Assert.Throws<ArgumentException>(() => cpu.MatMul(w.W, new float[16], new float[7], 2));
        Assert.Throws<ArgumentException>(() => _reference.MatMul(w.W, new float[15], new float[8], 2));
    }

    [Fact]
    public void ZeroRowsLeavesTheOutputAlone()
    {
        using var cpu = new CpuBackend(2);
        var w = WeightLayouts.Create("F8E4M3 128x128", 4, 8, seed: 1);
        var y = new float[] { 1, 2 };
        cpu.MatMul(w.W, [], y, 0);
        Assert.Equal([1f, 2f], y);
    }
}
