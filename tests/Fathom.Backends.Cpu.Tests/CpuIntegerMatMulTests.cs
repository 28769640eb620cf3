using Fathom.Core;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>
/// INT8 (per-channel and block scales) and INT4 (grouped, with zero points) weights through CpuBackend's fused
/// kernels against ReferenceBackend (plain dequantization, double accumulation), over many widths, groups,
/// tails, batch sizes (the fused decode path and the dequantize-a-row path), thread counts and row slices.
/// </summary>
public sealed class CpuIntegerMatMulTests
{
    private readonly ReferenceBackend _reference = new();

    public static TheoryData<int, int> Int8Shapes => new()
    {
        { 1, 16 }, { 7, 32 }, { 9, 48 }, { 33, 64 }, { 17, 112 }, { 65, 256 }, { 5, 7 }, { 13, 33 }, { 3, 1000 }, { 41, 1040 },
    };

    public static TheoryData<int, int, int> Int4Shapes => new()
    {
        // rows, cols, group
        { 8, 16, 16 }, { 16, 32, 32 }, { 24, 64, 16 }, { 8, 96, 32 }, { 40, 128, 128 }, { 16, 256, 128 }, { 8, 384, 128 },
        { 16, 24, 8 }, { 8, 40, 8 }, { 24, 192, 64 }, { 8, 1024, 128 },
    };

    [Theory]
    [MemberData(nameof(Int8Shapes))]
    public void Int8PerChannelMatchesTheReference(int rows, int cols)
    {
        var q = QuantizedLinear.RoundToNearest(new IntegerGrid(IntegerScheme.Int8Channel, 0), Weights(rows, cols, seed: cols), rows, cols);
        var w = q.ToMatrix();
        Assert.Equal(DType.I8, w.Type);
        CheckAllBatches(w, $"I8[{rows}, {cols}]");
    }

    [Theory]
    [InlineData(12, 64, 16)]
    [InlineData(9, 100, 32)]
    [InlineData(130, 256, 128)]
    public unsafe void Int8BlockScalesMatchTheReference(int rows, int cols, int block)
    {
        var random = new Random(rows);
        var codes = GC.AllocateArray<byte>(rows * cols, pinned: true);
        random.NextBytes(codes);
        int blockRows = (rows + block - 1) / block, blockCols = (cols + block - 1) / block;
        var scales = Enumerable.Range(0, blockRows * blockCols).Select(i => 0.001f * (1 + (i % 7))).ToArray();
        fixed (byte* p = codes)
        {
            var w = new WeightMatrix(DType.I8, p, rows, cols, cols, codes, scales, block, block);
            CheckAllBatches(w, $"I8[{rows}, {cols}] in {block}x{block} blocks");
            if (rows > 4)
            {
                CheckAllBatches(w.SliceRows(3, rows - 4), "row slice");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Int4Shapes))]
    public void Int4GroupsMatchTheReference(int rows, int cols, int group)
    {
        var q = QuantizedLinear.RoundToNearest(new IntegerGrid(IntegerScheme.Int4Group, group), Weights(rows, cols, seed: rows + cols), rows, cols);
        var w = q.ToMatrix();
        Assert.Equal(DType.U4, w.Type);
        CheckAllBatches(w, $"U4[{rows}, {cols}] groups of {group}");
        CheckAllBatches(w.SliceRows(1, rows - 2), $"U4 slice of [{rows}, {cols}]");
    }

    [Theory]
    [InlineData(IntegerScheme.Int8Channel, 1)]
    [InlineData(IntegerScheme.Int8Channel, 3)]
    [InlineData(IntegerScheme.Int4Group, 2)]
    public void ResultsDoNotDependOnTheThreadCount(IntegerScheme scheme, int threads)
    {
        int rows = 203, cols = 256;
        var w = QuantizedLinear.RoundToNearest(new IntegerGrid(scheme, 64), Weights(rows, cols, seed: 3), rows, cols).ToMatrix();
        using var single = new CpuBackend(1);
        using var several = new CpuBackend(threads);
        foreach (int tokens in new[] { 1, 3, 9 })
        {
            var x = VectorData.Uniform(tokens * cols, -1, 1, tokens);
            var a = new float[tokens * rows];
            var b = new float[tokens * rows];
            single.MatMul(w, x, a, tokens);
            several.MatMul(w, x, b, tokens);
            Assert.Equal(a, b);
        }
    }

    [Theory]
    [InlineData(IntegerScheme.Int8Channel)]
    [InlineData(IntegerScheme.Int4Group)]
    public void MatMulTransposedAndEmbeddingDecodeTheWeights(IntegerScheme scheme)
    {
        int rows = 40, cols = 64;
        var w = QuantizedLinear.RoundToNearest(new IntegerGrid(scheme, 32), Weights(rows, cols, seed: 9), rows, cols).ToMatrix();
        using var cpu = new CpuBackend(2);
        var x = VectorData.Uniform(3 * rows, -1, 1, 4);
        var expected = new float[3 * cols];
        var actual = new float[3 * cols];
        _reference.MatMulTransposed(w, x, expected, 3);
        cpu.MatMulTransposed(w, x, actual, 3);
        Tolerance.AssertRelative(expected, actual, 1e-5, 1e-6, $"{scheme} transposed");

        int[] ids = [0, 39, 7];
        var e = new float[3 * cols];
        var a = new float[3 * cols];
        _reference.Embedding(w, ids, e);
        cpu.Embedding(w, ids, a);
        Assert.Equal(e, a);
    }

    private void CheckAllBatches(in WeightMatrix w, string what)
    {
        using var cpu = new CpuBackend(3);
        foreach (int tokens in new[] { 1, 2, 3, 4, 5, 17 })
        {
            var x = VectorData.Uniform(tokens * w.Cols, -1, 1, tokens + w.Cols);
            var expected = new float[tokens * w.Rows];
            var actual = new float[tokens * w.Rows];
            actual.AsSpan().Fill(float.NaN);
            _reference.MatMul(w, x, expected, tokens);
            cpu.MatMul(w, x, actual, tokens);
            var row = new float[w.Cols];
            for (int o = 0; o < w.Rows; o++)
            {
                w.DequantizeRow(o, row);
                for (int t = 0; t < tokens; t++)
                {
                    double magnitude = 0;
                    for (int c = 0; c < w.Cols; c++)
                    {
                        magnitude += Math.Abs(row[c] * x[(t * w.Cols) + c]);
                    }

                    double bound = Tolerance.Dot(w.Cols, magnitude) + 1e-30;
                    float e = expected[(t * w.Rows) + o], a = actual[(t * w.Rows) + o];
                    Assert.True(Math.Abs(a - e) <= bound, $"{what} x {tokens} tokens, output {o}: {a:R} vs {e:R} (bound {bound:E2})");
                }
            }
        }
    }

    private static float[] Weights(int rows, int cols, int seed)
    {
        // Rows of different magnitudes and a few outliers, as trained weights have.
        var w = VectorData.Uniform(rows * cols, -0.05, 0.05, seed);
        for (int r = 0; r < rows; r++)
        {
            w[(r * cols) + ((r * 7) % cols)] *= 8;
            for (int c = 0; c < cols; c++)
            {
                w[(r * cols) + c] *= 1 + (r % 5);
            }
        }

        return w;
    }
}
