using Fathom.Core;
using Fathom.Core.Tests;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>CpuBackend.MatMulTransposed (y = x · W) agrees with the reference for every weight layout and size.</summary>
public sealed class CpuMatMulTransposedTests
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
                int depth = WeightLayouts.Heights[(i + j) % WeightLayouts.Heights.Length];
                int seed = (1000 * i) + j;
                var w = WeightLayouts.Create(layout, depth, cols, seed);
                var x = TestMatrix.Activations(tokens * depth, seed + 7);
                // A zero activation is skipped by the fast kernel: make sure some are.
                x[0] = 0;
                var expected = new float[tokens * cols];
                var actual = new float[tokens * cols];
                actual.AsSpan().Fill(float.NaN);
                _reference.MatMulTransposed(w.W, x, expected, tokens);
                cpu.MatMulTransposed(w.W, x, actual, tokens);

                var bounds = new double[tokens * cols];
                for (int r = 0; r < tokens; r++)
                {
                    for (int c = 0; c < cols; c++)
                    {
                        double exact = 0, absolute = 0;
                        for (int k = 0; k < depth; k++)
                        {
                            double term = (double)x[(r * depth) + k] * w[k, c];
                            exact += term;
                            absolute += Math.Abs(term);
                        }

                        bounds[(r * cols) + c] = Tolerance.Dot(depth, absolute);
                        Assert.True(Math.Abs(expected[(r * cols) + c] - exact) <= (Tolerance.Unit * Math.Abs(exact)) + (1e-14 * absolute), $"reference wrong at {r},{c}");
                    }
                }

                Tolerance.AssertWithin(expected, actual, k => bounds[k], $"{layout} [{depth}, {cols}]ᵀ x {tokens} tokens, {threads} threads, {path}");
            }
        }
    }

    [Fact]
    public void ColumnPrefixViewUsesOnlyItsColumns()
    {
        using var cpu = new CpuBackend(3);
        var full = TestMatrix.Random(DType.F8E4M3, 40, 300, seed: 3);
        var view = full.Matrix.TakeColumns(256);
        var x = TestMatrix.Activations(2 * 40, seed: 4);
        var expected = new float[2 * 256];
        var actual = new float[2 * 256];
        _reference.MatMulTransposed(view, x, expected, 2);
        cpu.MatMulTransposed(view, x, actual, 2);
        for (int c = 0; c < 256; c++)
        {
            double exact = 0;
            for (int k = 0; k < 40; k++)
            {
                exact += (double)x[k] * full.Values[(k * 300) + c];
            }

            Assert.Equal((float)exact, expected[c], 1e-5f);
        }

        Tolerance.AssertRelative(expected, actual, 1e-5, 1e-6, "TakeColumns(256) of F8E4M3[40, 300]");
    }

    [Fact]
    public void EmptyDepthGivesZeros()
    {
        using var cpu = new CpuBackend(2);
        var w = WeightMatrix.FromPinned(PinnedBuffer.Allocate(1), 0, 5);
        var y = new float[10];
        y.AsSpan().Fill(3f);
        cpu.MatMulTransposed(w, [], y, 2);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ShortBuffersAreRejected()
    {
        using var cpu = new CpuBackend(2);
        var w = WeightLayouts.Create("F32", 4, 8, seed: 1);
        Assert.Throws<ArgumentException>(() => cpu.MatMulTransposed(w.W, new float[7], new float[16], 2));
        Assert.Throws<ArgumentException>(() => cpu.MatMulTransposed(w.W, new float[8], new float[15], 2));
    }
}
