using System.Runtime.Intrinsics;
using Fathom.Backends.Cpu.Kernels;
using Fathom.Core;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>The pieces of the quantized kernels: activation quantizers, the f16 scale conversion and the Q4_K scale unpacking.</summary>
public sealed unsafe class QuantizedKernelPartsTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Q8_0ActivationsFollowTheBlockRule(bool offset)
    {
        const int rows = 3, cols = 96;
        var x = QuantizedWeights.Activations(rows * cols, seed: 2);
        x.AsSpan(32, 32).Clear();   // an all-zero block
        x[70] = 2.5f;               // lands on a tie when it is the block's largest value
        var activations = new Q8_0Activations(offset);
        fixed (float* px = x)
        {
            activations.Quantize(px, rows, cols);
        }

        for (int r = 0; r < rows; r++)
        {
            for (int b = 0; b < cols / 32; b++)
            {
                var block = x.AsSpan((r * cols) + (b * 32), 32);
                float amax = 0;
                foreach (float v in block)
                {
                    amax = Math.Max(amax, Math.Abs(v));
                }

                float d = amax / 127;
                for (int i = 0; i < 32; i++)
                {
                    // Levels round half to even; the stored value is d · level.
                    float level = d == 0 ? 0 : MathF.Round(block[i] * (1f / d));
                    Assert.Equal(d * level, activations.Value(r, (b * 32) + i));
                }
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Q8KActivationsFollowTheSuperBlockRuleAndSumEvery32(bool paired)
    {
        const int rows = 2, cols = 512;
        var x = QuantizedWeights.Activations(rows * cols, seed: 3);
        x.AsSpan(256, 256).Clear();
        var activations = new Q8KActivations(paired);
        fixed (float* px = x)
        {
            activations.Quantize(px, rows, cols);
        }

        for (int r = 0; r < rows; r++)
        {
            for (int b = 0; b < cols / 256; b++)
            {
                var block = x.AsSpan((r * cols) + (b * 256), 256);
                float amax = 0;
                foreach (float v in block)
                {
                    amax = Math.Max(amax, Math.Abs(v));
                }

                float iscale = amax == 0 ? 0 : 127f / amax;
                for (int j = 0; j < 8; j++)
                {
                    int sum = 0;
                    for (int i = 0; i < 32; i++)
                    {
                        int col = (b * 256) + (j * 32) + i;
                        int level = (int)MathF.Round(block[(j * 32) + i] * iscale);
                        sum += level;
                        Assert.Equal(level, activations.Levels[activations.LevelIndex(r, col)]);
                    }

                    Assert.Equal(sum, activations.Sums[(r * (cols / 32)) + (b * 8) + j]);
                }

                Assert.Equal(amax == 0 ? 0 : 1 / iscale, activations.Scales[(r * (cols / 256)) + b]);
            }
        }

        // Paired: in every 128 levels the two middle runs of 32 trade places; else the natural order.
        int[] expected = paired ? [0, 64, 32, 96, 128, 192, 160, 224] : [0, 32, 64, 96, 128, 160, 192, 224];
        for (int run = 0; run < expected.Length; run++)
        {
            Assert.Equal(run * 32L, activations.LevelIndex(0, expected[run]));
        }
    }

    [Fact]
    public void HalfToSingleIsExactForEveryFiniteHalf()
    {
        for (int bits = 0; bits < 0x10000; bits++)
        {
            var h = BitConverter.UInt16BitsToHalf((ushort)bits);
            if (Half.IsFinite(h))
            {
                int expected = BitConverter.SingleToInt32Bits((float)h);
                Assert.Equal(expected, BitConverter.SingleToInt32Bits(QuantizedLanes.HalfToSingle((ushort)bits)));

                // In vector lanes, from either half of a 32-bit lane (the other half holding unrelated bits).
                var upper = Vector256.Create((bits << 16) | 0xBEEF);
                Assert.Equal(expected, BitConverter.SingleToInt32Bits(QuantizedLanes.UpperHalvesToSingle(upper).GetElement(3)));
                var lower = Vector256.Create(unchecked((int)0xA5A50000) | bits);
                Assert.Equal(expected, BitConverter.SingleToInt32Bits(QuantizedLanes.UpperHalvesToSingle(Vector256.ShiftLeft(lower, 16)).GetElement(5)));
            }
        }
    }

    [Fact]
    public void UnpackedScaleMinsMatchTheReferenceUnpacking()
    {
        var random = new Random(4);
        var packed = new byte[12];
        for (int trial = 0; trial < 2000; trial++)
        {
            random.NextBytes(packed);
            fixed (byte* p = packed)
            {
                Q4KMatMulKernel.UnpackScaleMins(p, out ulong scales, out ulong mins);
                for (int j = 0; j < 8; j++)
                {
                    Q4K.GetScaleMin(j, p, out byte scale, out byte min);
                    Assert.Equal(scale, (byte)(scales >> (8 * j)));
                    Assert.Equal(min, (byte)(mins >> (8 * j)));
                }
            }
        }
    }

    [Fact]
    public void TheBestPathIsTheWidestTheCpuHas()
    {
        Assert.True(IntegerDotPaths.IsSupported(IntegerDotPaths.Best));
        if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported)
        {
            Assert.Equal(System.Runtime.Intrinsics.X86.Avx512BW.IsSupported ? IntegerDotPath.Avx512 : IntegerDotPath.AvxVnni, IntegerDotPaths.Best);
        }
    }
}
