using Fathom.Core;
using Fathom.Model;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Backends.Cuda.Tests;

/// <summary>
/// The per-head attention products: the FP8 transposed W_UK holds exactly the transposed values of kv_b_proj,
/// and the tensor-core per-head kernel (mma_head_gemm) equals the float32 streaming one (head_gemm).
/// </summary>
public sealed unsafe class HeadProductTests
{
    private static ModelConfig Shape(int heads, int nope, int v, int rank) =>
        ModelConfig.Load(Path.Combine(TestPaths.GoldenCase("tiny-v3-fp8"), "model", "config.json")) with
        {
            NumAttentionHeads = heads,
            QkNopeHeadDim = nope,
            VHeadDim = v,
            KvLoraRank = rank,
        };

    [CudaFact]
    public void Fp8KeyUpTransposeHoldsTheStoredValues()
    {
        var c = Shape(3, 128, 128, 384);
        var random = new Random(5);
        int stride = c.QkNopeHeadDim + c.VHeadDim;
        var kvB = GemvKernelTests.RandomWeight("fp8", c.NumAttentionHeads * stride, c.KvLoraRank, random, out var owner);
        using var gpu = new CudaContext(0, new CudaOptions { KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels") });
        var t = CudaModelWeights.KeyUpTransposedFp8(gpu, kvB, c, "kv_b_proj") ?? throw new Xunit.Sdk.XunitException("no FP8 transpose for 128-row blocks");
        Assert.Equal(WeightKind.Fp8, t.Kind);
        Assert.Equal((c.NumAttentionHeads * c.KvLoraRank, c.QkNopeHeadDim), (t.Rows, t.Cols));
        var bytes = new byte[(long)t.Rows * t.Cols];
        var scales = new float[(t.Rows / t.BlockRows) * t.ScaleCols];
        fixed (byte* b = bytes)
        fixed (float* s = scales)
        {
            gpu.DownloadAsync(b, t.Data, bytes.Length);
            gpu.DownloadAsync(s, t.Scales, scales.Length * 4L);
            gpu.Synchronize();
        }

        var row = new float[c.KvLoraRank];
        for (int h = 0; h < c.NumAttentionHeads; h++)
        {
            for (int d = 0; d < c.QkNopeHeadDim; d++)
            {
                kvB.DequantizeRow((h * stride) + d, row);
                for (int col = 0; col < c.KvLoraRank; col++)
                {
                    int r = (h * c.KvLoraRank) + col;
                    float value = Float8E4M3.ToSingle(bytes[((long)r * t.Cols) + d]) * scales[((r / t.BlockRows) * t.ScaleCols) + (d / t.BlockCols)];
                    Assert.True(value == row[col], $"head {h}, row {col}, column {d}: {value} against the stored {row[col]}");
                }
            }
        }

        GC.KeepAlive(owner);
        Assert.Equal(WeightKind.F32, CudaModelWeights.KeyUpTransposed(gpu, kvB, c, "kv_b_proj").Kind);
        Assert.Null(CudaModelWeights.KeyUpTransposedFp8(gpu, kvB, Shape(3, 128, 64, 384), "kv_b_proj"));
    }

    /// <summary>Both per-head products of a pass: the absorption (rows [h·512, + 512)) and W_UV (rows [h·256 + 128, + 128)).</summary>
    [CudaTheory]
    [InlineData(512, 0, 512, 128, 32)]
    [InlineData(256, 128, 128, 512, 40)]
    [InlineData(256, 128, 128, 512, 9)]
    public void TensorCoreHeadProductsMatchTheFloat32Kernel(int headRows, int rowOffset, int rows, int cols, int batch)
    {
        const int heads = 4;
        var random = new Random(headRows + rowOffset + batch);
        var weight = GemvKernelTests.RandomWeight("fp8", heads * headRows, cols, random, out var owner);
        long ldx = (long)heads * cols, ldy = (long)heads * rows + 8;
        var x = new float[batch * ldx];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1);
        }

        using var gpu = new CudaContext(0, new CudaOptions { KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels") });
        var w = DeviceMatrix.Upload(gpu, weight, "test weight");
        ulong dx = gpu.Allocate(x.Length * 4L, "x");
        gpu.Upload<float>(dx, x);
        var poison = Enumerable.Repeat(float.NaN, (int)(batch * ldy)).ToArray();
        ulong y1 = gpu.Allocate(poison.Length * 4L, "y1"), y2 = gpu.Allocate(poison.Length * 4L, "y2");
        gpu.Upload<float>(y1, poison);
        gpu.Upload<float>(y2, poison);
        gpu.Launch(
            KernelNames.HeadGemm(w.Kind, batch), (uint)((rows + 15) / 16), heads, 1, 256, 0,
            w.Data, w.Scales, (long)headRows, (long)rowOffset, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, dx, (long)cols, ldx, y1, (long)rows, ldy, batch, false);
        gpu.Launch(
            KernelNames.MmaHeadGemm(w.Kind, batch), (uint)((rows + 127) / 128), heads, 1, 128, 0,
            w.Data, w.Scales, (long)headRows, (long)rowOffset, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, dx, (long)cols, ldx, y2, (long)rows, ldy, batch);
        Compare("tensor cores");

        // The same on the rows prepared as f16 pairs (f16_pairs over whole token rows: one scale for all heads).
        ulong prepared = gpu.Allocate(x.Length * 4L, "prepared x"), inv = gpu.Allocate(batch * 4L, "inverse scales");
        gpu.Upload<float>(y2, poison);
        gpu.Launch("f16_pairs", (uint)batch, 1, 1, 128, 0, dx, batch, (int)ldx, prepared, inv, 0UL, 0, 0UL, 0UL);
        gpu.Launch(
            KernelNames.MmaHeadGemmPrepared(batch), (uint)((rows + 127) / 128), heads, 1, 128, 0,
            w.Data, w.Scales, (long)headRows, (long)rowOffset, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, prepared, (long)cols, ldx, y2, (long)rows, ldy, batch, inv);
        Compare("tensor cores on prepared rows");
        GC.KeepAlive(owner);

        void Compare(string what)
        {
            var a = new float[poison.Length];
            var b = new float[poison.Length];
            fixed (float* pa = a, pb = b)
            {
                gpu.DownloadAsync(pa, y1, a.Length * 4L);
                gpu.DownloadAsync(pb, y2, b.Length * 4L);
                gpu.Synchronize();
            }

            double diff = 0, norm = 0;
            for (int t = 0; t < batch; t++)
            {
                for (int i = 0; i < heads * rows; i++)
                {
                    long k = (t * ldy) + i;
                    Assert.False(float.IsNaN(a[k]) || float.IsNaN(b[k]), $"{what}: token {t}, output {i} was not written");
                    diff += (a[k] - (double)b[k]) * (a[k] - (double)b[k]);
                    norm += (double)a[k] * a[k];
                }

                Assert.True(float.IsNaN(b[(t * ldy) + (heads * rows)]), $"{what}: token {t}: written past its {heads * rows} outputs");
            }

            double error = Math.Sqrt(diff / norm);
            Assert.True(error < 1e-5, $"per-head products [{rows}x{cols}] of {heads} heads, batch {batch}: {what} differ from the float32 kernel by {error:E2}");
        }
    }
}
