using Fathom.Backends.Cpu.Kernels;
using Fathom.Backends.Cpu.Kernels.Lanes;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>
/// A 4x4 tile's finish (<c>Sum16</c>) gives each register exactly its <c>Sum</c>, bit for bit, on values of
/// mixed magnitudes and signs where any other order of additions rounds differently; the 512-bit
/// <c>Sum</c> is the perfect binary tree over the lanes in order.
/// </summary>
public sealed unsafe class LanesSumTests
{
    public static TheoryData<string> VectorPaths() => [.. FloatPaths.Supported.Where(p => p != nameof(FloatVectorPath.Scalar))];

    [Theory]
    [MemberData(nameof(VectorPaths))]
    public void Sum16EqualsEachRegistersSum(string path)
    {
        switch (Enum.Parse<FloatVectorPath>(path))
        {
            case FloatVectorPath.Avx512:
                Check<Lanes512>();
                break;
            case FloatVectorPath.Avx2:
                Check<Lanes256>();
                break;
            default:
                Check<Lanes128>();
                break;
        }
    }

    [Avx512Fact]
    public void Sum512IsThePairwiseTreeInLaneOrder()
    {
        var random = new Random(7);
        var v = new float[16];
        for (int trial = 0; trial < 1000; trial++)
        {
            Fill(v, random);
            float[] level = v;
            while (level.Length > 1)
            {
                level = [.. Enumerable.Range(0, level.Length / 2).Select(i => level[2 * i] + level[(2 * i) + 1])];
            }

            fixed (float* p = v)
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(level[0]), BitConverter.SingleToInt32Bits(Lanes512.Sum(Lanes512.Load(p))));
            }
        }
    }

    private static void Check<TLanes>()
        where TLanes : struct, IFloatLanes<TLanes>
    {
        int n = TLanes.Count;
        var random = new Random(n);
        var acc = new float[16 * n];
        var y = new float[16];
        for (int trial = 0; trial < 1000; trial++)
        {
            Fill(acc, random);
            fixed (float* a = acc)
            fixed (float* p = y)
            {
                TLanes.Sum16(a, p, p + 4, p + 8, p + 12);
                for (int i = 0; i < 16; i++)
                {
                    float expected = TLanes.Sum(TLanes.Load(a + (i * n)));
                    Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(y[i]), $"{typeof(TLanes).Name} trial {trial} register {i}: {y[i]} vs {expected}");
                }
            }
        }
    }

    /// <summary>Signs and exponents spread over 2^-20..2^20, so that the order of the additions shows in the last bits.</summary>
    private static void Fill(float[] values, Random random)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-20, 21)));
        }
    }
}
