using Fathom.Core;
using Xunit;

namespace Fathom.Core.Tests;

/// <summary>WeightMatrix.DequantizeRow / DequantizeRange give each stored element's exact value.</summary>
public sealed class WeightMatrixDequantizeTests
{
    public static TheoryData<DType> Types => new(DType.F32, DType.BF16, DType.F16, DType.F8E4M3);

    [Theory]
    [MemberData(nameof(Types))]
    public void DequantizeRowGivesTheStoredValues(DType type)
    {
        var m = TestMatrix.Random(type, 37, 45, seed: 1, blockRows: 8, blockCols: 16);
        var row = new float[m.Cols];
        for (int r = 0; r < m.Rows; r++)
        {
            m.Matrix.DequantizeRow(r, row);
            Assert.Equal(m.Row(r).ToArray(), row);
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void DequantizeRangeGivesEverySegmentOfTheRow(DType type)
    {
        var m = TestMatrix.Random(type, 5, 45, seed: 2, blockRows: 2, blockCols: 8);
        var segment = new float[m.Cols];
        for (int r = 0; r < m.Rows; r++)
        {
            for (int col = 0; col <= m.Cols; col++)
            {
                for (int count = 0; col + count <= m.Cols; count++)
                {
                    segment.AsSpan().Fill(float.NaN);
                    m.Matrix.DequantizeRange(r, col, count, segment);
                    Assert.Equal(m.Row(r).Slice(col, count).ToArray(), segment.AsSpan(0, count).ToArray());
                    Assert.True(float.IsNaN(segment[count..].FirstOrDefault(float.NaN)), "wrote past count");
                }
            }
        }
    }

    [Fact]
    public void Fp8PartialEdgeBlocksUseTheirBlocksScale()
    {
        // [200, 300] in 128x128 blocks: scales [2, 3], the last block row has 72 rows and the last block column 44.
        var m = TestMatrix.Random(DType.F8E4M3, 200, 300, seed: 3);
        Assert.Equal(6, m.Scales!.Length);
        var row = new float[300];
        foreach (int r in new[] { 0, 127, 128, 150, 199 })
        {
            m.Matrix.DequantizeRow(r, row);
            foreach (int c in new[] { 0, 127, 128, 255, 256, 299 })
            {
                float scale = m.Scales[((r / 128) * 3) + (c / 128)];
                Assert.Equal(scale, m.Matrix.ScaleAt(r, c));
                Assert.Equal(m.Values[(r * 300) + c], row[c]);
            }

            Assert.Equal(m.Row(r).ToArray(), row);
        }
    }

    [Fact]
    public void Fp8ElementIsItsCodeTimesItsBlockScale()
    {
        // One hand-made 3x3 matrix in 2x2 blocks: scales [[1, 2], [4, 8]].
        var data = GC.AllocateArray<byte>(9, pinned: true);
        data[0] = 0x38; // 1.0
        data[2] = 0x40; // 2.0
        data[6] = 0xB8; // -1.0
        data[8] = 0x01; // 2^-9
        float[] scales = [1, 2, 4, 8];
        unsafe
        {
            fixed (byte* p = data)
            {
                var m = new WeightMatrix(DType.F8E4M3, p, 3, 3, 3, data, scales, 2, 2);
                var row = new float[3];
                m.DequantizeRow(0, row);
                Assert.Equal([1f, 0f, 4f], row);
                m.DequantizeRow(2, row);
                Assert.Equal([-4f, 0f, 8 * MathF.Pow(2, -9)], row);
            }
        }
    }
}
