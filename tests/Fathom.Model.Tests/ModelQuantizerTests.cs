using Fathom.Core;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>ModelQuantizer: which weights it re-encodes, into what, and that the new bytes decode to the old values.</summary>
public sealed class ModelQuantizerTests
{
    [Theory]
    [InlineData(DType.Q8_0, 64, DType.Q8_0)]
    [InlineData(DType.Q8_0, 32, DType.Q8_0)]
    [InlineData(DType.Q8_0, 48, null)]
    [InlineData(DType.Q8_0, 80, null)]
    [InlineData(DType.Q4K, 512, DType.Q4K)]
    [InlineData(DType.Q4K, 192, DType.Q8_0)]
    [InlineData(DType.Q4K, 160, DType.Q8_0)]
    [InlineData(DType.Q4K, 80, null)]
    [InlineData(DType.F8E4M3, 80, DType.F8E4M3)]
    [InlineData(DType.F8E4M3, 2048, DType.F8E4M3)]
    public void FormatFollowsTheRowWidth(DType target, int cols, DType? expected)
    {
        Assert.Equal(expected, ModelQuantizer.FormatFor(target, cols));
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.I8)]
    public void OnlyBlockFormatsAreTargets(DType target)
    {
        using var golden = new GoldenCase("tiny-v3");
        var error = Assert.Throws<NotSupportedException>(() => LoadedModel.Load(golden.ModelDirectory, new LoadOptions { Quantize = target }));
        Assert.Contains(target.ToSafeTensors(), error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tiny-v3")]
    [InlineData("tiny-v3-fp8")]
    [InlineData("tiny-v2-lite")]
    public void Q8_0ReencodesEveryLinearWeightAndNothingElse(string name)
    {
        using var golden = new GoldenCase(name);
        using var plain = LoadedModel.Load(golden.ModelDirectory);
        using var quantized = LoadedModel.Load(golden.ModelDirectory, new LoadOptions { Quantize = DType.Q8_0 });
        var before = plain.Weights;
        var after = quantized.Weights;

        // Kept as stored: embeddings, routers, norms, biases.
        Assert.Equal(before.Embed.Type, after.Embed.Type);
        Assert.Equal(before.FinalNorm, after.FinalNorm);
        for (int l = 0; l < before.Layers.Length; l++)
        {
            Assert.Equal(before.Layers[l].InputNorm, after.Layers[l].InputNorm);
            Assert.Equal(before.Layers[l].Attention.KvANorm, after.Layers[l].Attention.KvANorm);
            if (before.Layers[l].Moe is { } moe)
            {
                Assert.Equal(moe.Router.Type, after.Layers[l].Moe!.Router.Type);
                Assert.Equal(moe.Bias, after.Layers[l].Moe!.Bias);
            }
        }

        // Every linear weight whose width is whole 32-blocks (all of them in these checkpoints) is Q8_0 and decodes
        // to within half a step plus 127 times the f16 scale's rounding (2^-11 relative) of the stored value.
        var plan = ModelQuantizer.Plan(before, DType.Q8_0);
        var encoded = ModelQuantizer.Plan(after, DType.Q8_0);
        Assert.Equal(plan.Select(e => e.Name), encoded.Select(e => e.Name));
        Assert.All(encoded, e => Assert.Equal(DType.Q8_0, e.From));
        Assert.Contains(plan, e => e.Name == TensorNames.LmHead);
        var matrices = Matrices(before).Zip(Matrices(after));
        foreach (var (source, target) in matrices.Where((_, i) => i % 7 == 0))
        {
            AssertCloseRowByRow(source, target, (0.5 + (127.0 / 2048)) / 127);
        }
    }

    [Theory]
    [InlineData("tiny-v3")]
    [InlineData("tiny-v3-fp8")]
    [InlineData("tiny-v2-lite")]
    public unsafe void Fp8EncodesEveryLinearWeightInScaleBlocksAndKeepsStoredFp8(string name)
    {
        using var golden = new GoldenCase(name);
        using var plain = LoadedModel.Load(golden.ModelDirectory);
        using var quantized = LoadedModel.Load(golden.ModelDirectory, new LoadOptions { Quantize = DType.F8E4M3 });
        Assert.Equal(plain.Weights.Embed.Type, quantized.Weights.Embed.Type);
        var pairs = Matrices(plain.Weights).Zip(Matrices(quantized.Weights)).ToArray();
        Assert.All(pairs, p => Assert.Equal(DType.F8E4M3, p.Second.Type));
        Assert.Equal(DType.F8E4M3, quantized.Weights.LmHead.Type);
        foreach (var (source, target) in pairs)
        {
            if (source.Type == DType.F8E4M3)
            {
                // Stored FP8 is used as it is: the same bytes and scales (a view of the same file).
                Assert.Equal(source.Owner!.GetType(), target.Owner!.GetType());
                Assert.Equal(source.BlockScales, target.BlockScales);
                Assert.True(new ReadOnlySpan<byte>(source.RowPointer(0), (int)source.StorageBytes).SequenceEqual(new ReadOnlySpan<byte>(target.RowPointer(0), (int)target.StorageBytes)));
                continue;
            }

            // The codes and scales are DeepSeek's block layout of the decoded weight (Fp8BlockQuantizer bit for bit).
            Assert.Equal((ModelQuantizer.Fp8Block, ModelQuantizer.Fp8Block), (target.BlockRows, target.BlockCols));
            var values = new float[(long)source.Rows * source.Cols];
            for (int r = 0; r < source.Rows; r++)
            {
                source.DequantizeRow(r, values.AsSpan(r * source.Cols, source.Cols));
            }

            var (codes, scales) = Fp8BlockQuantizer.Quantize(values, source.Rows, source.Cols);
            Assert.Equal(scales, target.BlockScales!.Take(scales.Length));
            for (int r = 0; r < source.Rows; r += 17)
            {
                Assert.True(codes.AsSpan(r * source.Cols, source.Cols).SequenceEqual(new ReadOnlySpan<byte>(target.RowPointer(r), source.Cols)), $"row {r}");
            }
        }
    }

    [Fact]
    public void MtpModulesStayAsStored()
    {
        string demo = Path.Combine(TestPaths.RepositoryRoot, "models", "fathom-demo");
        using var plain = LoadedModel.Load(demo);
        using var quantized = LoadedModel.Load(demo, new LoadOptions { Quantize = DType.Q8_0 });
        Assert.NotEmpty(plain.Weights.Mtp);
        var before = plain.Weights.Mtp[0];
        var after = quantized.Weights.Mtp[0];
        Assert.Equal(before.EhProj.Type, after.EhProj.Type);
        Assert.Equal(before.Block.Attention.O.Type, after.Block.Attention.O.Type);
        Assert.Equal(DType.Q8_0, quantized.Weights.Layers[0].Attention.O.Type);
    }

    [Fact]
    public void AlreadyEncodedWeightsAreKept()
    {
        using var golden = new GoldenCase("tiny-v2-lite");
        using var model = LoadedModel.Load(golden.ModelDirectory, new LoadOptions { Quantize = DType.Q8_0 });
        var again = ModelQuantizer.Apply(model.Weights, model.Config, DType.Q8_0);
        Assert.Equal(Matrices(model.Weights).Select(m => m.Owner), Matrices(again).Select(m => m.Owner));
    }

    [Fact]
    public void Q4KDecodesNearTheStoredWeights()
    {
        using var golden = new GoldenCase("tiny-v3");
        using var plain = LoadedModel.Load(golden.ModelDirectory);
        using var quantized = LoadedModel.Load(golden.ModelDirectory, new LoadOptions { Quantize = DType.Q4K });
        var source = plain.Weights.Layers[0].Dense!.Gate;   // [512, 256]: one super-block per row
        var target = quantized.Weights.Layers[0].Dense!.Gate;
        Assert.Equal(DType.Q4K, target.Type);
        double error = 0, norm = 0;
        var a = new float[source.Cols];
        var b = new float[source.Cols];
        for (int r = 0; r < source.Rows; r++)
        {
            source.DequantizeRow(r, a);
            target.DequantizeRow(r, b);
            for (int c = 0; c < a.Length; c++)
            {
                error += (a[c] - (double)b[c]) * (a[c] - (double)b[c]);
                norm += (double)a[c] * a[c];
            }
        }

        // 4-bit levels per 32 weights: ~7% RMS on bell-shaped weights (see the Q4_K encoder tests).
        Assert.InRange(Math.Sqrt(error / norm), 0.03, 0.09);
    }

    private static IEnumerable<WeightMatrix> Matrices(ModelWeights weights)
    {
        var list = new List<WeightMatrix>();
        ModelQuantizerProbe.Collect(weights, list);
        return list;
    }

    private static void AssertCloseRowByRow(WeightMatrix source, WeightMatrix target, double stepFraction)
    {
        Assert.Equal((source.Rows, source.Cols), (target.Rows, target.Cols));
        var a = new float[source.Cols];
        var b = new float[source.Cols];
        for (int r = 0; r < source.Rows; r++)
        {
            source.DequantizeRow(r, a);
            target.DequantizeRow(r, b);
            for (int block = 0; block < a.Length / 32; block++)
            {
                double amax = 0;
                for (int i = 0; i < 32; i++)
                {
                    amax = Math.Max(amax, Math.Abs(a[(block * 32) + i]));
                }

                for (int i = 0; i < 32; i++)
                {
                    int c = (block * 32) + i;
                    Assert.True(Math.Abs(a[c] - b[c]) <= (stepFraction * amax) + 1e-12, $"{source} row {r} col {c}: {b[c]} vs {a[c]}");
                }
            }
        }
    }
}

/// <summary>Lists a model's linear weights in the order ModelQuantizer.Plan names them.</summary>
internal static class ModelQuantizerProbe
{
    public static void Collect(ModelWeights w, List<WeightMatrix> into)
    {
        foreach (var layer in w.Layers)
        {
            var a = layer.Attention;
            foreach (var m in new[] { a.QA, a.QB, a.Q })
            {
                if (m is { } present)
                {
                    into.Add(present);
                }
            }

            into.AddRange([a.KvA, a.KvB, a.O]);
            if (layer.Dense is { } d)
            {
                into.AddRange([d.Gate, d.Up, d.Down]);
            }

            if (layer.Moe is { } moe)
            {
                foreach (var e in moe.Experts)
                {
                    into.AddRange([e.Gate, e.Up, e.Down]);
                }

                if (moe.Shared is { } s)
                {
                    into.AddRange([s.Gate, s.Up, s.Down]);
                }
            }
        }

        into.Add(w.LmHead);
    }
}
