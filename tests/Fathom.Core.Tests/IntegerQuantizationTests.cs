using Fathom.Core;
using Xunit;

namespace Fathom.Core.Tests;

/// <summary>The INT8/INT4 grids, AWQ's packed layout, GPTQ and AWQ's scale search, and the FP8 block encoder.</summary>
public sealed class IntegerQuantizationTests
{
    [Fact]
    public void AwqPackingPutsColumnsInAwqsNibbleOrder()
    {
        // One input row, eight outputs with codes 0..7: nibble k holds output Order[k] = 0, 2, 4, 6, 1, 3, 5, 7.
        byte[] codes = [0, 1, 2, 3, 4, 5, 6, 7];
        var (qweight, qzeros, scales) = AwqPacking.Pack(codes, new float[8], Enumerable.Repeat(1f, 8).ToArray(), inFeatures: 1, outFeatures: 8, groupSize: 1);
        Assert.Equal(0x75316420u, (uint)qweight[0]);
        Assert.Equal(0, qzeros[0]);
        Assert.All(scales, s => Assert.Equal((Half)1, s));
    }

    [Theory]
    [InlineData(8, 16, 16)]
    [InlineData(24, 64, 32)]
    [InlineData(16, 256, 128)]
    public void AwqPackAndUnpackRoundTrip(int outs, int ins, int group)
    {
        var random = new Random(outs + ins);
        var codes = new byte[outs * ins];
        for (int i = 0; i < codes.Length; i++)
        {
            codes[i] = (byte)random.Next(16);
        }

        int groups = ins / group;
        var zeros = Enumerable.Range(0, outs * groups).Select(i => (float)random.Next(16)).ToArray();
        var scales = Enumerable.Range(0, outs * groups).Select(i => (float)(Half)(0.001f * (1 + random.Next(100)))).ToArray();
        var (qweight, qzeros, halfScales) = AwqPacking.Pack(codes, zeros, scales, ins, outs, group);
        Assert.Equal(ins * outs / 8, qweight.Length);
        Assert.Equal(groups * outs / 8, qzeros.Length);

        var nibbles = new byte[outs * ins / 2];
        var rowScales = new float[outs * groups];
        var rowZeros = new float[outs * groups];
        AwqPacking.Unpack(qweight, qzeros, halfScales, ins, outs, group, nibbles, rowScales, rowZeros);
        Assert.Equal(zeros, rowZeros);
        Assert.Equal(scales, rowScales);
        unsafe
        {
            fixed (byte* p = nibbles)
            {
                for (int o = 0; o < outs; o++)
                {
                    for (int i = 0; i < ins; i++)
                    {
                        Assert.Equal(codes[(o * ins) + i], Int4Groups.Code(p + (o * ins / 2), i));
                    }
                }
            }
        }
    }

    [Fact]
    public void PackingRejectsShapesAwqCannotHold()
    {
        Assert.Contains("multiple of 8", Assert.Throws<ArgumentException>(() => AwqPacking.Pack(new byte[12 * 16], new float[12], new float[12], 16, 12, 16)).Message, StringComparison.Ordinal);
        Assert.Contains("does not divide", Assert.Throws<ArgumentException>(() => AwqPacking.Pack(new byte[8 * 24], new float[8], new float[8], 24, 8, 16)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Int4GridCoversTheGroupsRangeWithAsymmetricCodes()
    {
        var grid = new IntegerGrid(IntegerScheme.Int4Group, 4);
        float[] w = [-0.3f, 0.1f, 0.2f, 0.45f];
        var (scale, zero) = grid.Fit(w);
        Assert.Equal((float)(Half)(0.75f / 15), scale);
        Assert.Equal(MathF.Round(0.3f / scale), zero);
        foreach (float v in w)
        {
            int code = grid.Encode(v, scale, zero);
            Assert.InRange(code, 0, 15);
            Assert.True(MathF.Abs(IntegerGrid.Decode(code, scale, zero) - v) <= (scale / 2) + 1e-6f);
        }
    }

    [Fact]
    public void Int8GridIsSymmetricPerRow()
    {
        var grid = new IntegerGrid(IntegerScheme.Int8Channel, 0);
        float[] row = [0.5f, -1.27f, 0.01f, 0f];
        var codes = new int[4];
        var deq = new float[4];
        var scales = new float[1];
        var zeros = new float[1];
        grid.QuantizeRow(row, codes, scales, zeros, deq);
        Assert.Equal(0.01f, scales[0], 1e-7f);
        Assert.Equal(0f, zeros[0]);
        Assert.Equal([50, -127, 1, 0], codes);
    }

    [Theory]
    [InlineData(IntegerScheme.Int4Group, 32)]
    [InlineData(IntegerScheme.Int4Group, 128)]
    [InlineData(IntegerScheme.Int8Channel, 0)]
    public void GptqLowersTheOutputErrorBelowRounding(IntegerScheme scheme, int group)
    {
        var (w, h, rows, cols) = Problem(seed: group);
        var grid = new IntegerGrid(scheme, group);
        var rtn = QuantizedLinear.RoundToNearest(grid, w, rows, cols);
        var gptq = Gptq.Quantize(grid, w, rows, cols, h);
        double rtnError = OutputError(rtn, w, h, rows, cols), gptqError = OutputError(gptq, w, h, rows, cols);
        Assert.True(gptqError < 0.9 * rtnError, $"{scheme}/{group}: GPTQ {gptqError:E3} vs RTN {rtnError:E3}");
        Assert.All(gptq.Codes, c => Assert.InRange(c, grid.MinCode, grid.MaxCode));
    }

    [Fact]
    public void GptqDropsInputsThatNeverFire()
    {
        var (w, h, rows, cols) = Problem(seed: 4);
        for (int i = 0; i < cols; i++)
        {
            h[(5L * cols) + i] = 0;
            h[((long)i * cols) + 5] = 0;
        }

        var q = Gptq.Quantize(new IntegerGrid(IntegerScheme.Int4Group, 32), w, rows, cols, h);
        for (int r = 0; r < rows; r++)
        {
            Assert.Equal(0f, q.Value(r, 5), 1e-6f);
        }
    }

    [Fact]
    public void CholeskyInverseFactorReproducesTheInverse()
    {
        double[] h = [4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2];
        var u = Gptq.InverseUpperCholesky(h, 3);
        // Uᵀ U · H = I
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                double sum = 0;
                for (int k = 0; k < 3; k++)
                {
                    double inv = 0;
                    for (int m = 0; m < 3; m++)
                    {
                        inv += u[(m * 3) + i] * u[(m * 3) + k];
                    }

                    sum += inv * h[(k * 3) + j];
                }

                Assert.Equal(i == j ? 1 : 0, sum, 1e-9);
            }

            for (int j = 0; j < i; j++)
            {
                Assert.Equal(0, u[(i * 3) + j]);
            }
        }
    }

    [Fact]
    public void AwqScalesNeverLoseToRoundingAndWinWithOutlierChannels()
    {
        var (w, h, rows, cols) = Problem(seed: 7);
        var hf = h.Select(v => (float)v).ToArray();
        var magnitude = new float[cols];
        for (int i = 0; i < cols; i++)
        {
            magnitude[i] = (float)Math.Sqrt(h[((long)i * cols) + i] / 512);
        }

        var grid = new IntegerGrid(IntegerScheme.Int4Group, 32);
        var (scales, alpha, loss, plain) = AwqScaleSearch.Search(grid, [new AwqMember(w, rows, cols, hf)], magnitude);
        Assert.Equal(cols, scales.Length);
        Assert.True(loss <= plain);
        Assert.True(alpha > 0 && loss < 0.9 * plain, $"α {alpha}: {loss:E3} vs rounding {plain:E3}");
        Assert.Equal(plain, AwqScaleSearch.Loss(grid, [new AwqMember(w, rows, cols, hf)], AwqScaleSearch.Candidate(magnitude, 0)), 1e-9 * plain);
    }

    [Fact]
    public void Fp8BlockEncoderMatchesTheScalarEncoderAndItsScales()
    {
        int rows = 130, cols = 200;
        var random = new Random(3);
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)((random.NextDouble() - 0.5) * 0.2)).ToArray();
        var (codes, scales) = Fp8BlockQuantizer.Quantize(w, rows, cols);
        Assert.Equal(2 * 2, scales.Length);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                float s = scales[((r / 128) * 2) + (c / 128)];
                Assert.Equal(Float8E4M3.FromSingle(w[(r * cols) + c] / s), codes[(r * cols) + c]);
            }
        }
    }

    /// <summary>A weight and the Σ xᵀx of correlated inputs with a few loud channels, as real activations have.</summary>
    private static (float[] W, double[] H, int Rows, int Cols) Problem(int seed)
    {
        int rows = 16, cols = 128, n = 512;
        var random = new Random(seed);
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var x = new double[n * cols];
        for (int t = 0; t < n; t++)
        {
            double common = random.NextDouble() - 0.5;
            for (int i = 0; i < cols; i++)
            {
                double loud = i % 16 == 3 ? 20 : 1;
                x[(t * cols) + i] = loud * ((random.NextDouble() - 0.5) + (0.8 * common));
            }
        }

        var h = new double[cols * cols];
        for (int t = 0; t < n; t++)
        {
            for (int i = 0; i < cols; i++)
            {
                for (int j = 0; j < cols; j++)
                {
                    h[(i * cols) + j] += x[(t * cols) + i] * x[(t * cols) + j];
                }
            }
        }

        return (w, h, rows, cols);
    }

    private static double OutputError(QuantizedLinear q, float[] w, double[] h, int rows, int cols)
    {
        double total = 0;
        var d = new double[cols];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < cols; i++)
            {
                d[i] = q.Value(r, i) - w[(r * cols) + i];
            }

            for (int i = 0; i < cols; i++)
            {
                for (int j = 0; j < cols; j++)
                {
                    total += d[i] * h[(i * cols) + j] * d[j];
                }
            }
        }

        return total;
    }
}
