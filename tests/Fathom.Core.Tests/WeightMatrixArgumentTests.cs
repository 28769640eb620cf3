using Fathom.Core;
using Xunit;

namespace Fathom.Core.Tests;

/// <summary>WeightMatrix refuses shapes, views and ranges that would read outside its data.</summary>
public sealed unsafe class WeightMatrixArgumentTests
{
    private static readonly byte[] Storage = GC.AllocateArray<byte>(4096, pinned: true);

    private static byte* Data => (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(
        ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(Storage));

    [Theory]
    [InlineData(-1, 4, 4)]
    [InlineData(4, -1, 4)]
    [InlineData(4, 4, 3)]
    public void ConstructorRejectsInvalidShapes(int rows, int cols, int rowStride)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightMatrix(DType.F32, Data, rows, cols, rowStride, null));
    }

    [Fact]
    public void Fp8WithoutBlockScalesIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new WeightMatrix(DType.F8E4M3, Data, 4, 4, 4, null));
        Assert.Equal("blockScales", e.ParamName);
    }

    [Theory]
    [InlineData(0, 128)]
    [InlineData(128, 0)]
    [InlineData(-128, 128)]
    public void Fp8WithEmptyBlocksIsRejected(int blockRows, int blockCols)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightMatrix(DType.F8E4M3, Data, 4, 4, 4, null, [1f], blockRows, blockCols));
    }

    [Fact]
    public void Fp8WithTooFewBlockScalesIsRejected()
    {
        // [200, 300] in 128x128 blocks needs 2 x 3 scales.
        var e = Assert.Throws<ArgumentException>(() => new WeightMatrix(DType.F8E4M3, Data, 20, 300, 300, null, new float[5], 128, 128, firstRow: 180));
        Assert.Contains("needs 6 block scales", e.Message, StringComparison.Ordinal);
        _ = new WeightMatrix(DType.F8E4M3, Data, 10, 300, 300, null, new float[6], 128, 128, firstRow: 10);
    }

    [Theory]
    [InlineData(DType.I32)]
    [InlineData(DType.F64)]
    [InlineData(DType.F8E5M2)]
    [InlineData(DType.Bool)]
    public void UnsupportedDTypesAreRejected(DType type)
    {
        Assert.Throws<NotSupportedException>(() => new WeightMatrix(type, Data, 2, 2, 2, null));
    }

    [Fact]
    public void FromPinnedRejectsAViewPastTheEndOfTheArray()
    {
        var data = PinnedBuffer.Allocate(30);
        Assert.Throws<ArgumentException>(() => WeightMatrix.FromPinned(data, 3, 10, offset: 1));
        Assert.Throws<ArgumentException>(() => WeightMatrix.FromPinned(data, 3, 8, offset: 0, rowStride: 12));
        _ = WeightMatrix.FromPinned(data, 3, 8, offset: 0, rowStride: 11);
    }

    [Fact]
    public void FromPinnedRejectsANegativeOffset()
    {
        var data = PinnedBuffer.Allocate(30);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => WeightMatrix.FromPinned(data, 2, 4, offset: -4));
        Assert.Equal("offset", e.ParamName);
    }

    [Theory]
    [InlineData(-1, 1)]
    [InlineData(0, 11)]
    [InlineData(5, 6)]
    [InlineData(11, 0)]
    [InlineData(2, -1)]
    public void SliceRowsOutsideTheMatrixIsRejected(int start, int count)
    {
        var m = WeightMatrix.FromPinned(PinnedBuffer.Allocate(40), 10, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.SliceRows(start, count));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5)]
    public void TakeColumnsBeyondTheWidthIsRejected(int count)
    {
        var m = WeightMatrix.FromPinned(PinnedBuffer.Allocate(40), 10, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.TakeColumns(count));
    }

    [Theory]
    [InlineData(-1, 0, 1)]
    [InlineData(10, 0, 1)]
    [InlineData(0, 5, 0)]
    [InlineData(0, 3, 2)]
    [InlineData(0, -1, 2)]
    [InlineData(0, 0, -1)]
    public void DequantizeRangeOutsideTheMatrixIsRejected(int row, int col, int count)
    {
        var m = WeightMatrix.FromPinned(PinnedBuffer.Allocate(40), 10, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.DequantizeRange(row, col, count, new float[8]));
    }

    [Fact]
    public void DequantizeIntoATooShortDestinationIsRejected()
    {
        var m = WeightMatrix.FromPinned(PinnedBuffer.Allocate(40), 10, 4);
        Assert.Throws<ArgumentException>(() => m.DequantizeRow(0, new float[3]));
    }
}
