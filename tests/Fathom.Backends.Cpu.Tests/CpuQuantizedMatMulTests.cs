using Fathom.Core;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>
/// Block-format weights through CpuBackend: MatMul runs the fused kernel over the worker pool (results as
/// with one thread), and MatMulTransposed (which the absorbed attention uses on kv_b) decodes the blocks.
/// </summary>
public sealed class CpuQuantizedMatMulTests
{
    private readonly ReferenceBackend _reference = new();

    [Theory]
    [InlineData(DType.Q8_0, 1)]
    [InlineData(DType.Q8_0, 3)]
    [InlineData(DType.Q4K, 1)]
    [InlineData(DType.Q4K, 3)]
    public void MatMulOverWorkersEqualsTheSingleKernel(DType type, int threads)
    {
        using var cpu = new CpuBackend(threads);
        using var single = new CpuBackend(1);
        foreach (int tokens in new[] { 1, 2, 8, 17 })
        {
            int cols = type.BlockElements() * 4, outs = 131;
            var w = QuantizedWeights.Create(type, outs, cols, seed: tokens);
            var x = QuantizedWeights.Activations(tokens * cols, seed: tokens + 1);
            var expected = new float[tokens * outs];
            var actual = new float[tokens * outs];
            actual.AsSpan().Fill(float.NaN);
            single.MatMul(w.Matrix, x, expected, tokens);
            cpu.MatMul(w.Matrix, x, actual, tokens);
            Assert.Equal(expected, actual);

            // And close to the reference's float product with the decoded weights (activations unquantized):
            var reference = new float[tokens * outs];
            _reference.MatMul(w.Matrix, x, reference, tokens);
            double error = 0, norm = 0;
            for (int i = 0; i < reference.Length; i++)
            {
                error += (actual[i] - (double)reference[i]) * (actual[i] - (double)reference[i]);
                norm += (double)reference[i] * reference[i];
            }

            // Activations are int8 per 32 (Q8_0) or per 256 (Q4_K, where one outlier coarsens 256 values).
            Assert.True(Math.Sqrt(error / norm) < (type == DType.Q8_0 ? 0.01 : 0.03), $"{type} x {tokens}: {Math.Sqrt(error / norm):E3} from the decoded-weight product");
        }
    }

    public static TheoryData<DType, int, string> TransposedCases()
    {
        var data = new TheoryData<DType, int, string>();
        foreach (string path in FloatPaths.Supported)
        {
            data.Add(DType.Q8_0, 1, path);
            data.Add(DType.Q8_0, 3, path);
            data.Add(DType.Q4K, 2, path);
        }

        return data;
    }

    /// <summary>
    /// x · W for block-quantized W on every float path: rows of 3, 4 and 8 blocks (whole register tiles for
    /// 128- and 256-bit lanes; a 96-column Q8_0 row is a tile and a half for 512-bit lanes and takes the
    /// dequantized-row path), 1-5 activation rows (the 4-row and 1-row tiles), and a row slice that starts
    /// mid-tensor as the absorbed attention's per-head W_UK views do.
    /// </summary>
    [Theory]
    [MemberData(nameof(TransposedCases))]
    public void MatMulTransposedMatchesTheReference(DType type, int threads, string path)
    {
        using var cpu = FloatPaths.Backend(threads, path);
        foreach (int blocks in new[] { 3, 4, 8 })
        {
            foreach (int tokens in new[] { 1, 3, 5 })
            {
                int depth = 40, cols = type.BlockElements() * blocks;
                var whole = QuantizedWeights.Create(type, depth + 7, cols, seed: tokens + blocks);
                foreach (var w in new[] { whole.Matrix.SliceRows(0, depth), whole.Matrix.SliceRows(7, depth) })
                {
                    var x = QuantizedWeights.Activations(tokens * depth, seed: 5);
                    var expected = new float[tokens * cols];
                    var actual = new float[tokens * cols];
                    actual.AsSpan().Fill(float.NaN);
                    _reference.MatMulTransposed(w, x, expected, tokens);
                    cpu.MatMulTransposed(w, x, actual, tokens);
                    for (int i = 0; i < expected.Length; i++)
                    {
                        Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 * (Math.Abs(expected[i]) + 1), $"{type} {path} [{depth}, {cols}] x {tokens}: {actual[i]:R} vs {expected[i]:R} at {i}");
                    }
                }
            }
        }
    }

    [Fact]
    public void RowSlicesOfABlockMatrixUseTheirOwnRows()
    {
        using var cpu = new CpuBackend(2);
        var w = QuantizedWeights.Create(DType.Q8_0, 20, 64, seed: 6);
        var x = QuantizedWeights.Activations(2 * 64, seed: 7);
        var whole = new float[2 * 20];
        var slice = new float[2 * 5];
        cpu.MatMul(w.Matrix, x, whole, 2);
        cpu.MatMul(w.Matrix.SliceRows(10, 5), x, slice, 2);
        for (int r = 0; r < 2; r++)
        {
            Assert.Equal(whole.AsSpan((r * 20) + 10, 5).ToArray(), slice.AsSpan(r * 5, 5).ToArray());
        }
    }
}
