using Xunit;

namespace Fathom.Backends.Cuda.Tests;

/// <summary>The split-K plan of the tensor-core products: runs without a GPU (it is host arithmetic).</summary>
public sealed class SplitKTests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 2048, 2048, 128 },    // V2-Lite o_proj
        { 3072, 2048, 128 },    // V2-Lite q_proj
        { 576, 2048, 128 },     // kv_a
        { 10944, 2048, 128 },   // dense gate / up
        { 2048, 10944, 128 },   // dense down (the last slice shorter)
        { 24576, 1536, 128 },   // V3 q_b
        { 7168, 18432, 128 },   // V3 dense down
        { 320, 320, 128 },      // the tiny FP8 golden model
        { 256, 192, 64 },
        { 129280, 2048, 128 },  // a head: enough blocks, no split
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SlicesAreWholeStepsAndScaleBlocksAndCoverTheColumnsOnce(int rows, int cols, int blockCols)
    {
        foreach (int sms in new[] { 8, 114, 132 })
        {
            foreach (int tokens in new[] { 32, 33, 64 })
            {
                int splits = SplitK.Plan(rows, cols, blockCols, tokens, sms, Buffers.SplitKFloats, out int chunk);
                int blocks = (rows + 127) / 128;
                Assert.InRange(splits, 1, Math.Max(1, 2 * sms / blocks));
                if (splits == 1)
                {
                    Assert.Equal(cols, chunk);
                    continue;
                }

                Assert.Equal(0, chunk % 128);
                Assert.Equal(0, chunk % blockCols);
                Assert.True((long)splits * chunk >= cols, $"{splits} slices of {chunk} miss columns of {cols}");
                Assert.True((long)(splits - 1) * chunk < cols, $"{splits} slices of {chunk}: the last is empty ({cols} columns)");
                Assert.True((long)splits * tokens * rows <= Buffers.SplitKFloats, "the partial sums overflow the workspace");
            }
        }
    }

    [Fact]
    public void ASmallMatrixOnALargeGpuIsSplitAndALargeOneIsNot()
    {
        Assert.Equal(16, SplitK.Plan(2048, 2048, 128, 32, 132, Buffers.SplitKFloats, out int chunk));
        Assert.Equal(128, chunk);
        Assert.Equal(1, SplitK.Plan(129280, 2048, 128, 32, 132, Buffers.SplitKFloats, out chunk));
        Assert.Equal(2048, chunk);
    }

    [Fact]
    public void TheWorkspaceBoundsTheSplits()
    {
        // 64 tokens of 16384 rows fill 2^20 floats per slice: at most 8 slices fit 2^23 floats.
        int splits = SplitK.Plan(16384, 8192, 128, 64, 1024, Buffers.SplitKFloats, out _);
        Assert.True((long)splits * 64 * 16384 <= Buffers.SplitKFloats);
        Assert.True(splits >= 2);
    }
}
