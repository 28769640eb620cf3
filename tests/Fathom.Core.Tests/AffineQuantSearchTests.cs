using Fathom.Core;
using Xunit;

namespace Fathom.Core.Tests;

/// <summary>
/// The k-quant scale search runs one group per vector lane; each group must get exactly what GGML's
/// sequential loop (make_qkx2_quants, transcribed below) gives it: the same scale and offset bits and levels.
/// </summary>
public class AffineQuantSearchTests
{
    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (string shape in new[] { "normal", "positive", "heavy", "coarse", "constant-run", "outlier", "some-flat" })
        {
            foreach (int n in new[] { 32, 7, 16, 40 })
            {
                foreach (int nstep in new[] { 20, 0, 1, 9, 30 })
                {
                    data.Add(shape, n, nstep);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesGgmlSequentialLoopBitForBit(string shape, int n, int nstep)
    {
        var random = new Random(HashCode.Combine(shape.Length, shape[0], n, nstep));
        int improvedSomewhere = 0;
        for (int batch = 0; batch < 60; batch++)
        {
            // 1-11 groups per call: fewer and more than a vector's lanes, and a partial last vector.
            int groups = 1 + (batch % 11);
            var x = new float[groups * n];
            var weights = new float[groups * n];
            for (int g = 0; g < groups; g++)
            {
                var xg = x.AsSpan(g * n, n);
                Fill(shape, random, xg);
                float sumX2 = 0;
                foreach (float v in xg)
                {
                    sumX2 += v * v;
                }

                float avX = MathF.Sqrt(sumX2 / n);
                for (int i = 0; i < n; i++)
                {
                    weights[(g * n) + i] = avX + MathF.Abs(xg[i]);
                }
            }

            var actual = new byte[groups * n];
            var scales = new float[groups];
            var offsets = new float[groups];
            AffineQuantSearch.Search(x, weights, n, 15, actual, -1f, 0.1f, nstep, scales, offsets);
            var expected = new byte[n];
            for (int g = 0; g < groups; g++)
            {
                float expectedScale = Reference(x.AsSpan(g * n, n), weights.AsSpan(g * n, n), 15, expected, -1f, 0.1f, nstep, out float expectedOffset, out bool improved);
                improvedSomewhere += improved ? 1 : 0;
                string where = $"{shape} n {n} nstep {nstep} batch {batch} group {g} of {groups}";
                Assert.True(BitConverter.SingleToInt32Bits(expectedScale) == BitConverter.SingleToInt32Bits(scales[g]), $"{where}: scale {scales[g]} vs {expectedScale}");
                Assert.True(BitConverter.SingleToInt32Bits(expectedOffset) == BitConverter.SingleToInt32Bits(offsets[g]), $"{where}: offset {offsets[g]} vs {expectedOffset}");
                Assert.True(expected.AsSpan().SequenceEqual(actual.AsSpan(g * n, n)), $"{where}: levels differ");
            }
        }

        if (nstep >= 1 && shape != "constant-run")
        {
            // The trials must have replaced the plain min/max fit somewhere, or the comparison proves little.
            Assert.True(improvedSomewhere > 0, $"{shape} n {n} nstep {nstep}: no group took a trial's fit");
        }
    }

    private static void Fill(string shape, Random random, Span<float> x)
    {
        // "some-flat": about half the groups one negative value throughout (max == min), beside normal ones.
        bool flat = shape == "some-flat" && random.Next(2) == 0;
        for (int i = 0; i < x.Length; i++)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            double normal = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            x[i] = shape switch
            {
                "normal" => (float)(0.02 * normal),
                "positive" => (float)(0.5 + (0.1 * random.NextDouble())),
                "heavy" => (float)(0.01 * normal * normal * normal),
                "coarse" => random.Next(-3, 4) * 0.25f,
                "constant-run" => i < x.Length / 2 ? 0.125f : (float)(0.01 * normal),
                "some-flat" => flat ? -0.375f : (float)(0.02 * normal),
                _ => i == 3 % x.Length ? 4f : (float)(0.01 * normal),
            };
        }
    }

    /// <summary>GGML's make_qkx2_quants as written: one trial after another, each from the best fit so far.</summary>
    private static float Reference(
        ReadOnlySpan<float> x,
        ReadOnlySpan<float> weights,
        int nmax,
        Span<byte> levels,
        float rmin,
        float rdelta,
        int nstep,
        out float offset,
        out bool improved)
    {
        improved = false;
        int n = x.Length;
        Span<byte> trial = stackalloc byte[n];
        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min)
            {
                min = x[i];
            }

            if (x[i] > max)
            {
                max = x[i];
            }

            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }

        if (min > 0)
        {
            min = 0;
        }

        if (max == min)
        {
            levels[..n].Clear();
            offset = -min;
            return 0f;
        }

        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * (x[i] - min));
            levels[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = (scale * levels[i]) + min - x[i];
            bestError += weights[i] * (diff * diff);
        }

        if (nstep < 1)
        {
            offset = -min;
            return scale;
        }

        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + (rdelta * step) + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(0, Math.Min(nmax, NearestInt(iscale * (x[i] - min))));
                trial[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }

            float det = (sumW * sumL2) - (sumL * sumL);
            if (det > 0)
            {
                float thisScale = ((sumW * sumXL) - (sumX * sumL)) / det;
                float thisMin = ((sumL2 * sumX) - (sumL * sumXL)) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }

                float error = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = (thisScale * trial[i]) + thisMin - x[i];
                    error += weights[i] * (diff * diff);
                }

                if (error < bestError)
                {
                    trial.CopyTo(levels);
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                    improved = true;
                }
            }
        }

        offset = -min;
        return scale;
    }

    private static int NearestInt(float value)
    {
        float shifted = value + 12582912f;
        return (BitConverter.SingleToInt32Bits(shifted) & 0x007FFFFF) - 0x00400000;
    }
}
