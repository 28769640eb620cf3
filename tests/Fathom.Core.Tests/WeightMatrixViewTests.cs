using Fathom.Core;
using Xunit;

namespace Fathom.Core.Tests;

/// <summary>Views of a matrix (row slices, column prefixes, strided float32 arrays) see the right elements.</summary>
public sealed class WeightMatrixViewTests
{
    public static TheoryData<DType> Types => new(DType.F32, DType.BF16, DType.F16, DType.F8E4M3);

    [Fact]
    public void Fp8SliceStartingMidBlockKeepsTheBlockScalesOfTheWholeTensor()
    {
        // Rows 100..259 of a [300, 300] matrix span block rows 0, 1 and 2.
        var m = TestMatrix.Random(DType.F8E4M3, 300, 300, seed: 4);
        var slice = m.Matrix.SliceRows(100, 160);
        Assert.Equal(160, slice.Rows);
        Assert.Equal(100, slice.FirstRow);
        Assert.Equal(m.Scales![0], slice.ScaleAt(27, 0));
        Assert.Equal(m.Scales[3], slice.ScaleAt(28, 0));
        Assert.Equal(m.Scales[5], slice.ScaleAt(155, 299));
        Assert.Equal(m.Scales[6], slice.ScaleAt(156, 0));
        var row = new float[300];
        for (int r = 0; r < slice.Rows; r++)
        {
            slice.DequantizeRow(r, row);
            Assert.Equal(m.Row(100 + r).ToArray(), row);
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void SliceOfASliceSeesTheRowsOfTheOriginal(DType type)
    {
        var m = TestMatrix.Random(type, 40, 19, seed: 5, blockRows: 4, blockCols: 8);
        var inner = m.Matrix.SliceRows(10, 25).SliceRows(7, 9);
        Assert.Equal(17, inner.FirstRow);
        Assert.Equal(9, inner.Rows);
        var row = new float[19];
        for (int r = 0; r < inner.Rows; r++)
        {
            inner.DequantizeRow(r, row);
            Assert.Equal(m.Row(17 + r).ToArray(), row);
        }
    }

    [Fact]
    public void EmptySliceAtTheEndIsAllowed()
    {
        var m = TestMatrix.Random(DType.F8E4M3, 10, 10, seed: 6);
        Assert.Equal(0, m.Matrix.SliceRows(10, 0).Rows);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void TakeColumnsKeepsTheRowStrideAndTheBlockScales(DType type)
    {
        var m = TestMatrix.Random(type, 130, 300, seed: 7);
        var view = m.Matrix.TakeColumns(256);
        Assert.Equal(256, view.Cols);
        Assert.Equal(300, view.RowStride);
        var row = new float[256];
        foreach (int r in new[] { 0, 1, 127, 128, 129 })
        {
            view.DequantizeRow(r, row);
            Assert.Equal(m.Row(r)[..256].ToArray(), row);
        }
    }

    [Fact]
    public void FromPinnedReadsRowsAtTheOffsetAndStride()
    {
        var m = TestMatrix.Strided(rows: 5, cols: 7, rowStride: 10, offset: 3, seed: 8);
        Assert.Equal(10, m.Matrix.RowStride);
        Assert.Equal(DType.F32, m.Matrix.Type);
        var row = new float[7];
        for (int r = 0; r < 5; r++)
        {
            m.Matrix.DequantizeRow(r, row);
            Assert.Equal(m.Row(r).ToArray(), row);
        }
    }

    [Fact]
    public void FromPinnedDefaultsTheStrideToTheWidth()
    {
        var data = PinnedBuffer.Allocate(12);
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = i;
        }

        var m = WeightMatrix.FromPinned(data, 3, 4);
        Assert.Equal(4, m.RowStride);
        Assert.Same(data, m.Owner);
        var row = new float[4];
        m.DequantizeRow(2, row);
        Assert.Equal([8f, 9f, 10f, 11f], row);
    }

    [Fact]
    public void DescriptionAndSizeFollowTheView()
    {
        var m = TestMatrix.Random(DType.F8E4M3, 200, 300, seed: 9);
        Assert.Equal("F8_E4M3[200, 300]", m.Matrix.ToString());
        Assert.Equal(60000, m.Matrix.StorageBytes);
        Assert.Equal(2L * 50 * 300, TestMatrix.Random(DType.BF16, 100, 300, seed: 9).Matrix.SliceRows(50, 50).StorageBytes);
        Assert.True(default(WeightMatrix).IsEmpty);
        Assert.False(m.Matrix.IsEmpty);
    }
}
