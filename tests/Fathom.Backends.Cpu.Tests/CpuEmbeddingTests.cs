using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>CpuBackend.Embedding copies exactly the dequantized rows the ids name.</summary>
public sealed class CpuEmbeddingTests
{
    public static TheoryData<string> Layouts => new(WeightLayouts.All);

    [Theory]
    [MemberData(nameof(Layouts))]
    public void RowsAreTheTablesRowsExactly(string layout)
    {
        using var cpu = new CpuBackend(2);
        var reference = new ReferenceBackend();
        foreach (int width in WeightLayouts.Widths)
        {
            var table = WeightLayouts.Create(layout, 150, width, seed: width);
            int[] ids = [0, 149, 7, 7, 128, 127, 3];
            var expected = new float[ids.Length * width];
            var actual = new float[ids.Length * width];
            reference.Embedding(table.W, ids, expected);
            cpu.Embedding(table.W, ids, actual);
            for (int i = 0; i < ids.Length; i++)
            {
                var row = table.Values.AsSpan(ids[i] * width, width).ToArray();
                Assert.Equal(row, actual.AsSpan(i * width, width).ToArray());
                Assert.Equal(row, expected.AsSpan(i * width, width).ToArray());
            }
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(10)]
    [InlineData(int.MaxValue)]
    public void IdOutsideTheTableIsRejected(int id)
    {
        using var cpu = new CpuBackend(2);
        var table = WeightLayouts.Create("BF16", 10, 16, seed: 1);
        var y = new float[32];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => cpu.Embedding(table.W, [1, id], y));
        Assert.Contains($"token id {id}", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReferenceBackend().Embedding(table.W, [1, id], y));
    }
}
