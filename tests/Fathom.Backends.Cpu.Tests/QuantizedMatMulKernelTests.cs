using Fathom.Backends.Cpu.Kernels;
using Fathom.Core;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>
/// The Q8_0 and Q4_K kernels on every instruction set this CPU has: equal (to float32 rounding) to the
/// decoded weights times the same quantized activations, and within quantization error of the float product.
/// </summary>
public sealed unsafe class QuantizedMatMulKernelTests
{
    private static readonly int[] Tokens = [1, 2, 3, 4, 5, 17];

    public static TheoryData<DType, string, int> Cases()
    {
        var data = new TheoryData<DType, string, int>();
        foreach (var path in QuantizedKernels.SupportedPaths)
        {
            foreach (int cols in new[] { 32, 64, 96, 1408, 2048 })
            {
                data.Add(DType.Q8_0, path, cols);
            }

            foreach (int cols in new[] { 256, 512, 1536, 2048 })
            {
                data.Add(DType.Q4K, path, cols);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesDecodedWeightsTimesQuantizedActivations(DType type, string path, int cols)
    {
        var kernel = QuantizedKernels.Create(type, path);
        foreach (int tokens in Tokens)
        {
            int outs = 5 + (tokens * 3);
            var w = QuantizedWeights.Create(type, outs, cols, seed: cols + tokens);
            var x = QuantizedWeights.Activations(tokens * cols, seed: tokens);
            var y = new float[tokens * outs];
            y.AsSpan().Fill(float.NaN);
            fixed (float* px = x, py = y)
            {
                kernel.Prepare(w.Matrix, px, tokens);
                kernel.Run(w.Matrix, px, tokens, py, 0, outs, 0);
            }

            var xq = new double[cols];
            for (int r = 0; r < tokens; r++)
            {
                for (int c = 0; c < cols; c++)
                {
                    xq[c] = QuantizedKernels.Activation(kernel, r, c);
                }

                for (int o = 0; o < outs; o++)
                {
                    double expected = 0;
                    for (int c = 0; c < cols; c++)
                    {
                        expected += w.Decoded[(o * cols) + c] * xq[c];
                    }

                    double bound = 1e-5 * w.Magnitude(o, xq);
                    double actual = y[(r * outs) + o];
                    Assert.True(Math.Abs(actual - expected) <= bound, $"{type} {path} [{outs}, {cols}] x {tokens}: y[{r}, {o}] = {actual:R}, expected {expected:R} (bound {bound:E2})");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void IsWithinQuantizationErrorOfTheFloatProduct(DType type, string path, int cols)
    {
        const int tokens = 3, outs = 64;
        var kernel = QuantizedKernels.Create(type, path);
        var w = QuantizedWeights.Create(type, outs, cols, seed: cols);
        var x = QuantizedWeights.Activations(tokens * cols, seed: 11);
        var y = new float[tokens * outs];
        fixed (float* px = x, py = y)
        {
            kernel.Prepare(w.Matrix, px, tokens);
            kernel.Run(w.Matrix, px, tokens, py, 0, outs, 0);
        }

        double error = 0, norm = 0;
        for (int r = 0; r < tokens; r++)
        {
            for (int o = 0; o < outs; o++)
            {
                double exact = 0;
                for (int c = 0; c < cols; c++)
                {
                    exact += (double)w.Original[(o * cols) + c] * x[(r * cols) + c];
                }

                error += (y[(r * outs) + o] - exact) * (y[(r * outs) + o] - exact);
                norm += exact * exact;
            }
        }

        // Q8_0: weights and activations each carry ~0.3–0.5% RMS error; Q4_K weights ~7% (see the Core tests).
        double relative = Math.Sqrt(error / norm);
        Assert.True(relative <= (type == DType.Q8_0 ? 0.015 : 0.10), $"{type} {path} cols {cols}: relative error {relative:E3}");
    }

    [Theory]
    [MemberData(nameof(PathCases))]
    public void RowRangesWriteOnlyTheirOutputs(DType type, string path)
    {
        const int tokens = 5, outs = 23;
        int cols = type.BlockElements() * 2;
        var kernel = QuantizedKernels.Create(type, path);
        var w = QuantizedWeights.Create(type, outs, cols, seed: 3);
        var x = QuantizedWeights.Activations(tokens * cols, seed: 4);
        var whole = new float[tokens * outs];
        var parts = new float[tokens * outs];
        parts.AsSpan().Fill(float.NaN);
        fixed (float* px = x, pw = whole, pp = parts)
        {
            kernel.Prepare(w.Matrix, px, tokens);
            kernel.Run(w.Matrix, px, tokens, pw, 0, outs, 0);
            kernel.Run(w.Matrix, px, tokens, pp, 7, 12, 0);
            for (int r = 0; r < tokens; r++)
            {
                for (int o = 0; o < outs; o++)
                {
                    float v = parts[(r * outs) + o];
                    if (o is >= 7 and < 12)
                    {
                        Assert.Equal(whole[(r * outs) + o], v);
                    }
                    else
                    {
                        Assert.True(float.IsNaN(v), $"wrote y[{r}, {o}] outside [7, 12)");
                    }
                }
            }

            kernel.Run(w.Matrix, px, tokens, pp, 0, 7, 0);
            kernel.Run(w.Matrix, px, tokens, pp, 12, outs, 0);
        }

        Assert.Equal(whole, parts);
    }

    [Theory]
    [MemberData(nameof(PathCases))]
    public void EveryPathGivesTheSameProducts(DType type, string path)
    {
        // Integer sums are exact on every path; only the float32 accumulation order differs.
        const int tokens = 6, outs = 9;
        int cols = type.BlockElements() * 6;
        var w = QuantizedWeights.Create(type, outs, cols, seed: 8);
        var x = QuantizedWeights.Activations(tokens * cols, seed: 9);
        var portable = Product(QuantizedKernels.Create(type, nameof(IntegerDotPath.Portable)), w, x, tokens);
        var fast = Product(QuantizedKernels.Create(type, path), w, x, tokens);
        for (int r = 0; r < tokens; r++)
        {
            var xr = x.AsSpan(r * cols, cols).ToArray().Select(v => (double)v).ToArray();
            for (int o = 0; o < outs; o++)
            {
                int i = (r * outs) + o;
                double bound = 2e-5 * w.Magnitude(o, xr);
                Assert.True(Math.Abs(portable[i] - fast[i]) <= bound, $"{type} {path}: {fast[i]:R} vs portable {portable[i]:R} at {i} (bound {bound:E2})");
            }
        }
    }

    [Theory]
    [MemberData(nameof(PathCases))]
    public void ZeroActivationsGiveZero(DType type, string path)
    {
        int cols = type.BlockElements();
        var w = QuantizedWeights.Create(type, 4, cols, seed: 1);
        var y = Product(QuantizedKernels.Create(type, path), w, new float[2 * cols], 2);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    public static TheoryData<DType, string> PathCases()
    {
        var data = new TheoryData<DType, string>();
        foreach (var path in QuantizedKernels.SupportedPaths)
        {
            data.Add(DType.Q8_0, path);
            data.Add(DType.Q4K, path);
        }

        return data;
    }

    private static float[] Product(IMatMulKernel kernel, QuantizedWeights w, float[] x, int tokens)
    {
        var y = new float[tokens * w.Matrix.Rows];
        fixed (float* px = x, py = y)
        {
            kernel.Prepare(w.Matrix, px, tokens);
            kernel.Run(w.Matrix, px, tokens, py, 0, w.Matrix.Rows, 0);
        }

        return y;
    }
}
