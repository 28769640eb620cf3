using Xunit;

namespace Fathom.Core.Tests;

/// <summary>Block-format matrices: DequantizeRange of any segment (partial edge blocks, tails) equals the full row's slice.</summary>
public sealed unsafe class BlockDequantizeRangeTests
{
    public static TheoryData<DType, int> Cases => new()
    {
        { DType.Q8_0, 96 },
        { DType.Q8_0, 32 },
        { DType.Q4K, 512 },
        { DType.Q4K, 256 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EverySegmentEqualsTheFullRowsSlice(DType type, int cols)
    {
        const int rows = 3;
        var bytes = BlockBytes.Pinned(type.BytesFor(rows * cols), out byte* p);
        var x = BlockBytes.Gaussian(rows * cols, 1.0, seed: cols);
        for (int r = 0; r < rows; r++)
        {
            BlockQuantization.QuantizeRow(type, x.AsSpan(r * cols, cols), p + type.BytesFor(r * cols));
        }

        var w = new WeightMatrix(type, p, rows, cols, cols, bytes);
        var full = new float[cols];
        var segment = new float[cols + 1];
        int step = type == DType.Q4K ? 7 : 1;
        for (int r = 0; r < rows; r++)
        {
            w.DequantizeRow(r, full);
            Assert.Equal(BlockBytes.Decode(type, bytes[(int)type.BytesFor(r * cols)..], cols), full);
            for (int col = 0; col <= cols; col += step)
            {
                for (int count = 0; col + count <= cols; count += step)
                {
                    segment.AsSpan().Fill(float.NaN);
                    w.DequantizeRange(r, col, count, segment);
                    Assert.Equal(full.AsSpan(col, count).ToArray(), segment.AsSpan(0, count).ToArray());
                    Assert.True(float.IsNaN(segment[count]), "wrote past count");
                }
            }
        }
    }

    [Fact]
    public void RowSliceOfABlockMatrixStartsAtItsFirstBlock()
    {
        const int rows = 5, cols = 64;
        var bytes = BlockBytes.Pinned(DType.Q8_0.BytesFor(rows * cols), out byte* p);
        var x = BlockBytes.Gaussian(rows * cols, 1.0, seed: 9);
        Q8_0.QuantizeRow(x, p);
        var w = new WeightMatrix(DType.Q8_0, p, rows, cols, cols, bytes);
        var slice = w.SliceRows(2, 2);
        var expected = new float[cols];
        var actual = new float[cols];
        w.DequantizeRow(3, expected);
        slice.DequantizeRow(1, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void RowsThatAreNotWholeBlocksAreRefused()
    {
        Assert.Throws<ArgumentException>(() => BlockBytes.Encode(DType.Q8_0, new float[48]));
        Assert.Throws<ArgumentException>(() => BlockBytes.Encode(DType.Q4K, new float[160]));
    }
}
