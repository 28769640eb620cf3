using Fathom.Backends.Cpu;
using Fathom.Core;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Backends.Cuda.Tests;

/// <summary>
/// The weight-streaming product kernels against the reference backend, for every stored type, over
/// shapes with tails (columns not a multiple of the 16-byte vector, rows not a multiple of 8 warps) and
/// batches above the 8 rows one pass holds.
/// </summary>
public sealed unsafe class GemvKernelTests
{
    public static TheoryData<string, int, int, int> Shapes => new()
    {
        { "bf16", 37, 256, 1 },
        { "bf16", 300, 1000, 3 },
        { "bf16", 129, 2048, 19 },
        { "f32", 37, 99, 5 },
        { "f32", 64, 512, 8 },
        { "fp8", 200, 384, 1 },
        { "fp8", 130, 1000, 11 },
        { "fp8", 256, 2048, 9 },
    };

    [CudaTheory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheReferenceBackend(string type, int rows, int cols, int batch)
    {
        var random = new Random((rows * 7919) + cols + batch);
        var weight = RandomWeight(type, rows, cols, random, out var owner);
        var x = new float[batch * cols];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1);
        }

        var expected = new float[batch * rows];
        new ReferenceBackend().MatMul(weight, x, expected, batch);

        using var gpu = new CudaContext(0, new CudaOptions { KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels") });
        var w = DeviceMatrix.Upload(gpu, weight, "test weight");
        ulong dx = gpu.Allocate(x.Length * 4L, "x");
        ulong dy = gpu.Allocate(expected.Length * 4L, "y");
        gpu.Upload<float>(dx, x);
        var poison = Enumerable.Repeat(float.NaN, expected.Length).ToArray();
        gpu.Upload<float>(dy, poison);
        gpu.Launch(KernelNames.Gemm(w.Kind, batch), (uint)((rows + 7) / 8), 1, 1, 256, 0, w.Data, w.Scales, 0L, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, dx, (long)cols, dy, (long)rows, batch, false, false);
        var actual = new float[expected.Length];
        fixed (float* a = actual)
        {
            gpu.DownloadAsync(a, dy, actual.Length * 4L);
            gpu.Synchronize();
        }

        double diff = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]), $"output {i} was not written");
            diff += (actual[i] - (double)expected[i]) * (actual[i] - (double)expected[i]);
            norm += (double)expected[i] * expected[i];
        }

        GC.KeepAlive(owner);
        Assert.True(Math.Sqrt(diff / norm) < 1e-5, $"{type} [{rows}x{cols}] batch {batch}: relative error {Math.Sqrt(diff / norm):E2}");
    }

    /// <summary>cuBLASLt's bf16 products (the large-batch path) equal the streaming kernel on the same bf16 inputs, also when adding into a strided output.</summary>
    [CudaTheory]
    [InlineData("bf16", 384, 512, 40, false)]
    [InlineData("bf16", 1000, 2048, 64, true)]
    [InlineData("bf16", 129, 96, 33, false)]
    [InlineData("bf16", 256, 64, 33, true)]
    [InlineData("bf16", 80, 256, 33, false)]
    [InlineData("bf16", 192, 96, 33, false)]
    [InlineData("bf16", 512, 256, 300, false)]
    [InlineData("fp8", 256, 384, 33, true)]
    [InlineData("fp8", 200, 256, 65, false)]
    public void CublasLtPairsMatchTheFloat32StreamingKernel(string type, int rows, int cols, int batch, bool accumulate)
    {
        // Activations in full float32 precision (not bf16 values): the bf16 pairs must keep about 16
        // significant bits of each input, so the products agree with the float32 kernel to ~1e-5.
        var random = new Random(rows + cols + batch);
        var weight = RandomWeight(type, rows, cols, random, out var owner);
        var (x, start, ldy) = PairInputs(random, rows, cols, batch);

        using var gpu = new CudaContext(0, new CudaOptions { KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels") });
        var w = DeviceMatrix.Upload(gpu, weight, "test weight");
        ulong dx = gpu.Allocate(x.Length * 4L, "x");
        ulong xHi = gpu.Allocate(x.Length * 2L, "x bf16 hi"), xLo = gpu.Allocate(x.Length * 2L, "x bf16 lo");
        long elements = (long)rows * cols;
        ulong wHi = w.Data, wLo = 0;
        if (w.Kind == WeightKind.Fp8)
        {
            wHi = gpu.Allocate(elements * 2, "w bf16 hi");
            wLo = gpu.Allocate(elements * 2, "w bf16 lo");
            gpu.Launch("fp8_to_bf16_pair", (uint)((elements + 255) / 256), 1, 1, 256, 0, w.Data, w.Scales, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, wHi, wLo);
        }

        ulong y1 = gpu.Allocate(start.Length * 4L, "y1");
        ulong y2 = gpu.Allocate(start.Length * 4L, "y2");
        ulong workspace = gpu.Allocate(32L << 20, "workspace");
        gpu.Upload<float>(dx, x);
        gpu.Upload<float>(y1, start);
        gpu.Upload<float>(y2, start);
        gpu.Launch(KernelNames.Gemm(w.Kind), (uint)((rows + 7) / 8), 1, 1, 256, 0, w.Data, w.Scales, 0L, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, dx, (long)cols, y1, (long)ldy, batch, accumulate, false);
        gpu.Launch("to_bf16_pair", (uint)((x.Length + 255) / 256), 1, 1, 256, 0, dx, (long)x.Length, xHi, xLo);
        using var lt = new Interop.CublasLt([], workspace, 32u << 20);
        lt.LinearPair(wHi, wLo, rows, cols, xHi, xLo, batch, y2, ldy, accumulate, gpu.Stream);
        double error = RelativeDifference(gpu, y1, y2, start.Length);
        GC.KeepAlive(owner);
        Assert.True(error < 1e-5, $"{type} [{rows}x{cols}] batch {batch}: cuBLASLt pairs differ from the kernel by {error:E2}");
    }

    /// <summary>
    /// The tensor-core streaming products (bf16 activation pairs) equal the float32 streaming kernel to
    /// ~1e-5, for batches inside one n-tile, across several, and past the 32 rows one pass over the
    /// weights takes, with row counts that end mid-tile and outputs added into a strided buffer.
    /// </summary>
    [CudaTheory]
    [InlineData("bf16", 256, 2048, 1, false)]
    [InlineData("bf16", 300, 1024, 5, true)]
    [InlineData("bf16", 129, 96, 13, false)]
    [InlineData("bf16", 1000, 2048, 32, true)]
    [InlineData("bf16", 200, 1408, 45, false)]
    [InlineData("fp8", 256, 2048, 3, false)]
    [InlineData("fp8", 200, 384, 8, true)]
    [InlineData("fp8", 130, 1408, 16, false)]
    [InlineData("fp8", 512, 2048, 32, true)]
    [InlineData("fp8", 384, 1024, 70, false)]
    public void TensorCoreStreamingMatchesTheFloat32StreamingKernel(string type, int rows, int cols, int batch, bool accumulate)
    {
        var random = new Random((rows * 31) + cols + batch);
        var weight = RandomWeight(type, rows, cols, random, out var owner);
        var (x, start, ldy) = PairInputs(random, rows, cols, batch);

        using var gpu = new CudaContext(0, new CudaOptions { KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels") });
        var w = DeviceMatrix.Upload(gpu, weight, "test weight");
        ulong dx = gpu.Allocate(x.Length * 4L, "x");
        ulong y1 = gpu.Allocate(start.Length * 4L, "y1");
        ulong y2 = gpu.Allocate(start.Length * 4L, "y2");
        gpu.Upload<float>(dx, x);
        gpu.Upload<float>(y1, start);
        gpu.Upload<float>(y2, start);
        gpu.Launch(KernelNames.Gemm(w.Kind), (uint)((rows + 15) / 16), 1, 1, 256, 0, w.Data, w.Scales, 0L, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, dx, (long)cols, y1, (long)ldy, batch, accumulate, false);
        gpu.Launch(KernelNames.MmaGemm(w.Kind, batch), (uint)((rows + 127) / 128), 1, 1, 128, 0, w.Data, w.Scales, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, dx, (long)cols, y2, (long)ldy, batch, accumulate);
        double error = RelativeDifference(gpu, y1, y2, start.Length);
        Assert.True(error < 1e-5, $"{type} [{rows}x{cols}] batch {batch}: tensor-core products differ from the float32 kernel by {error:E2}");
        if (w.Kind == WeightKind.Fp8)
        {
            // The same product on the rows prepared as f16 pairs (f16_pairs): the dense FP8 path of the tensor-core passes.
            ulong prepared = gpu.Allocate(x.Length * 4L, "prepared x");
            ulong inv = gpu.Allocate(batch * 4L, "inverse scales");
            gpu.Upload<float>(y2, start);
            gpu.Launch("f16_pairs", (uint)batch, 1, 1, 128, 0, dx, batch, cols, prepared, inv, 0UL, 0, 0UL, 0UL);
            gpu.Launch(KernelNames.MmaGemmPrepared(batch), (uint)((rows + 127) / 128), 1, 1, 128, 0, w.Data, w.Scales, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, prepared, (long)cols, y2, (long)ldy, batch, accumulate, inv);
            error = RelativeDifference(gpu, y1, y2, start.Length);
            Assert.True(error < 1e-5, $"{type} [{rows}x{cols}] batch {batch}: tensor-core products on prepared rows differ from the float32 kernel by {error:E2}");
        }

        GC.KeepAlive(owner);
    }

    /// <summary>
    /// The FP8 tensor-core products split over K (the plan the forward pass uses, summed by splitk_reduce)
    /// equal the float32 streaming kernel as the whole product does: slices of whole scale blocks, a last
    /// slice shorter than the rest, batches across n-tiles, outputs added into a strided buffer.
    /// </summary>
    [CudaTheory]
    [InlineData(2048, 2048, 32, true)]
    [InlineData(576, 2048, 33, false)]
    [InlineData(256, 10944, 64, true)]
    [InlineData(320, 320, 40, false)]
    public void SplitTensorCoreProductsMatchTheFloat32StreamingKernel(int rows, int cols, int batch, bool accumulate)
    {
        var random = new Random((rows * 17) + cols + batch);
        var weight = RandomWeight("fp8", rows, cols, random, out var owner);
        var (x, start, ldy) = PairInputs(random, rows, cols, batch);

        using var gpu = new CudaContext(0, new CudaOptions { KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels") });
        var w = DeviceMatrix.Upload(gpu, weight, "test weight");
        int splits = SplitK.Plan(rows, cols, w.BlockCols, batch, gpu.Multiprocessors, Buffers.SplitKFloats, out int chunk);
        Assert.True(splits > 1, $"[{rows}x{cols}] is not split on this GPU ({gpu.Multiprocessors} multiprocessors)");
        ulong dx = gpu.Allocate(x.Length * 4L, "x");
        ulong y1 = gpu.Allocate(start.Length * 4L, "y1");
        ulong y2 = gpu.Allocate(start.Length * 4L, "y2");
        ulong part = gpu.Allocate((long)splits * batch * rows * 4, "partial sums");
        gpu.Upload<float>(dx, x);
        gpu.Upload<float>(y1, start);
        gpu.Upload<float>(y2, start);
        gpu.Launch(KernelNames.Gemm(w.Kind), (uint)((rows + 15) / 16), 1, 1, 256, 0, w.Data, w.Scales, 0L, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, dx, (long)cols, y1, (long)ldy, batch, accumulate, false);
        gpu.Launch(KernelNames.MmaGemmSplit(w.Kind, batch), (uint)((rows + 127) / 128), (uint)splits, 1, 128, 0, w.Data, w.Scales, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, dx, (long)cols, part, batch, chunk);
        gpu.Launch("splitk_reduce", (uint)Math.Min(((long)batch * rows + 255) / 256, 1024), 1, 1, 256, 0, part, splits, batch, rows, y2, (long)ldy, accumulate);
        double error = RelativeDifference(gpu, y1, y2, start.Length);
        Assert.True(error < 1e-5, $"[{rows}x{cols}] batch {batch}, {splits} slices of {chunk}: split products differ from the float32 kernel by {error:E2}");

        // The same split on the rows prepared as f16 pairs (f16_pairs).
        ulong prepared = gpu.Allocate(x.Length * 4L, "prepared x");
        ulong inv = gpu.Allocate(batch * 4L, "inverse scales");
        gpu.Upload<float>(y2, start);
        gpu.Launch("f16_pairs", (uint)batch, 1, 1, 128, 0, dx, batch, cols, prepared, inv, 0UL, 0, 0UL, 0UL);
        gpu.Launch(KernelNames.MmaGemmSplitPrepared(batch), (uint)((rows + 127) / 128), (uint)splits, 1, 128, 0, w.Data, w.Scales, rows, cols, w.BlockRows, w.BlockCols, w.ScaleCols, prepared, (long)cols, part, batch, chunk, inv);
        gpu.Launch("splitk_reduce", (uint)Math.Min(((long)batch * rows + 255) / 256, 1024), 1, 1, 256, 0, part, splits, batch, rows, y2, (long)ldy, accumulate);
        error = RelativeDifference(gpu, y1, y2, start.Length);
        GC.KeepAlive(owner);
        Assert.True(error < 1e-5, $"[{rows}x{cols}] batch {batch}, {splits} slices of {chunk}: split products on prepared rows differ from the float32 kernel by {error:E2}");
    }

    /// <summary>
    /// The FP8 expert products on prepared inputs (f16_pairs: f16 pairs with a power-of-two scale per row)
    /// equal the float32 streaming kernel to ~1e-5 in every token row, with rows whose magnitudes span
    /// 1e-6 to 1e6 (the scale keeps each inside f16's range) and an all-zero row: gate/up (silu(g)·u of one
    /// expert's tokens, taken through the slot order) and down.
    /// </summary>
    [CudaTheory]
    [InlineData(192, 320, 5)]
    [InlineData(1408, 2048, 8)]
    [InlineData(2048, 1408, 8)]
    [InlineData(256, 2816, 3)]
    public void PreparedExpertProductsMatchTheFloat32StreamingKernel(int rows, int cols, int count)
    {
        var random = new Random((rows * 7) + cols + count);
        var gate = RandomWeight("fp8", rows, cols, random, out var gateOwner);
        var up = RandomWeight("fp8", rows, cols, random, out var upOwner);
        var x = new float[count * cols];
        for (int j = 0; j < count; j++)
        {
            float magnitude = j == 1 ? 0f : MathF.Pow(10f, (2 * (j % 7)) - 6);
            for (int c = 0; c < cols; c++)
            {
                x[(j * cols) + c] = magnitude * (float)((random.NextDouble() * 2) - 1);
            }
        }

        using var gpu = new CudaContext(0, new CudaOptions { KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels") });
        var g = DeviceMatrix.Upload(gpu, gate, "test gate");
        var u = DeviceMatrix.Upload(gpu, up, "test up");
        ulong dx = gpu.Allocate(x.Length * 4L, "x");
        ulong prepared = gpu.Allocate(x.Length * 4L, "prepared x");
        ulong inv = gpu.Allocate(count * 4L, "inverse scales");
        ulong yg = gpu.Allocate((long)count * rows * 4, "gate products");
        ulong yu = gpu.Allocate((long)count * rows * 4, "up products");
        ulong act = gpu.Allocate((long)count * rows * 4, "activations");
        ulong pointers = gpu.Allocate(4 * 8, "expert pointers");
        ulong routing = gpu.Allocate((4 + count) * 4L, "offsets, active, order");
        gpu.Upload<float>(dx, x);
        gpu.Upload<ulong>(pointers, [g.Data, g.Scales, u.Data, u.Scales]);
        int[] table = [0, count, 1, 0, .. Enumerable.Range(0, count)];
        gpu.Upload<int>(routing, table);
        ulong offsets = routing, active = routing + 8, order = routing + 16;
        gpu.Launch("f16_pairs", (uint)count, 1, 1, 128, 0, dx, count, cols, prepared, inv, 0UL, 0, 0UL, 0UL);

        // Down: the gate weight as one expert's down rows [rows, cols] over the token rows.
        ulong yDown = gpu.Allocate((long)count * rows * 4, "down products");
        gpu.Launch(KernelNames.Gemm(g.Kind), (uint)((rows + 15) / 16), 1, 1, 256, 0, g.Data, g.Scales, 0L, rows, cols, g.BlockRows, g.BlockCols, g.ScaleCols, dx, (long)cols, yg, (long)rows, count, false, false);
        gpu.Launch(
            KernelNames.MmaMoeDownPrepared, (uint)((rows + 127) / 128), 1, 1, 128, 0,
            pointers, pointers + 8, rows, cols, g.BlockRows, g.BlockCols, g.ScaleCols, prepared, offsets, active, yDown, 0UL, 0UL, 0, 0, 0UL, 0UL, count, inv, 0UL);
        var reference = Download(gpu, yg, count * rows);
        AssertRowsClose(reference, Download(gpu, yDown, count * rows), count, rows, 1e-5, $"down [{rows}x{cols}]");

        // Gate/up: silu(x · gateᵀ) · (x · upᵀ), the expert's (token, slot) pairs in order with one slot per token.
        gpu.Launch(KernelNames.Gemm(u.Kind), (uint)((rows + 15) / 16), 1, 1, 256, 0, u.Data, u.Scales, 0L, rows, cols, u.BlockRows, u.BlockCols, u.ScaleCols, dx, (long)cols, yu, (long)rows, count, false, false);
        gpu.Launch(
            KernelNames.MmaMoeGateUpPrepared, (uint)((rows + 63) / 64), 1, 1, 128, 0,
            pointers, pointers + 8, pointers + 16, pointers + 24, rows, cols, g.BlockRows, g.BlockCols, g.ScaleCols, prepared, (long)cols, offsets, active, order, 1, act,
            0UL, 0UL, 0UL, 0UL, 0, count, 0UL, inv);
        var gv = Download(gpu, yg, count * rows);
        var uv = Download(gpu, yu, count * rows);
        var expected = new float[count * rows];
        for (int i = 0; i < expected.Length; i++)
        {
            expected[i] = gv[i] / (1f + MathF.Exp(-gv[i])) * uv[i];
        }

        AssertRowsClose(expected, Download(gpu, act, count * rows), count, rows, 1e-5, $"gate/up [{rows}x{cols}]");
        GC.KeepAlive(gateOwner);
        GC.KeepAlive(upOwner);
    }

    private static float[] Download(CudaContext gpu, ulong source, int length)
    {
        var a = new float[length];
        fixed (float* p = a)
        {
            gpu.DownloadAsync(p, source, length * 4L);
            gpu.Synchronize();
        }

        return a;
    }

    /// <summary>Each row's ‖b − a‖ / ‖a‖ under <paramref name="tolerance"/> (an all-zero reference row must be zero).</summary>
    private static void AssertRowsClose(float[] expected, float[] actual, int count, int width, double tolerance, string what)
    {
        for (int j = 0; j < count; j++)
        {
            double diff = 0, norm = 0;
            for (int i = j * width; i < (j + 1) * width; i++)
            {
                diff += (expected[i] - (double)actual[i]) * (expected[i] - (double)actual[i]);
                norm += (double)expected[i] * expected[i];
            }

            bool ok = norm == 0 ? diff == 0 : Math.Sqrt(diff / norm) < tolerance;
            Assert.True(ok, $"{what}: token row {j} differs by {(norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm)):E2} (norm {Math.Sqrt(norm):E2})");
        }
    }

    /// <summary>
    /// Activations [batch, cols] in full float32 precision (not bf16 values: a pair must keep ~16 significant
    /// bits of each) and a strided output [batch, rows + 8] holding values to add to.
    /// </summary>
    private static (float[] X, float[] Start, int Ldy) PairInputs(Random random, int rows, int cols, int batch)
    {
        var x = new float[batch * cols];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1);
        }

        int ldy = rows + 8;
        var start = new float[batch * ldy];
        for (int i = 0; i < start.Length; i++)
        {
            start[i] = (float)random.NextDouble();
        }

        return (x, start, ldy);
    }

    /// <summary>‖b − a‖ / ‖a‖ of two device buffers of <paramref name="length"/> floats, a the reference.</summary>
    private static double RelativeDifference(CudaContext gpu, ulong reference, ulong other, int length)
    {
        var a = Download(gpu, reference, length);
        var b = Download(gpu, other, length);
        double diff = 0, norm = 0;
        for (int i = 0; i < length; i++)
        {
            diff += (a[i] - (double)b[i]) * (a[i] - (double)b[i]);
            norm += (double)a[i] * a[i];
        }

        return Math.Sqrt(diff / norm);
    }

    internal static WeightMatrix RandomWeight(string type, int rows, int cols, Random random, out object owner)
    {
        switch (type)
        {
            case "f32":
            {
                var data = PinnedBuffer.Allocate(rows * cols);
                for (int i = 0; i < data.Length; i++)
                {
                    data[i] = (float)((random.NextDouble() * 2) - 1);
                }

                owner = data;
                return WeightMatrix.FromPinned(data, rows, cols);
            }

            case "bf16":
            {
                var data = GC.AllocateArray<ushort>(rows * cols, pinned: true);
                for (int i = 0; i < data.Length; i++)
                {
                    data[i] = BFloat16.FromSingle((float)((random.NextDouble() * 2) - 1));
                }

                owner = data;
                fixed (ushort* p = data)
                {
                    return new WeightMatrix(DType.BF16, p, rows, cols, cols, data);
                }
            }

            default:
            {
                var data = GC.AllocateArray<byte>(rows * cols, pinned: true);
                for (int i = 0; i < data.Length; i++)
                {
                    byte b = (byte)random.Next(256);
                    data[i] = (b & 0x7f) == 0x7f ? (byte)0x3c : b; // no NaN codes
                }

                int blockRows = 128, blockCols = 128;
                var scales = new float[((rows + blockRows - 1) / blockRows) * ((cols + blockCols - 1) / blockCols)];
                for (int i = 0; i < scales.Length; i++)
                {
                    scales[i] = (float)(0.001 + (random.NextDouble() * 0.01));
                }

                owner = data;
                fixed (byte* p = data)
                {
                    return new WeightMatrix(DType.F8E4M3, p, rows, cols, cols, data, scales, blockRows, blockCols);
                }
            }
        }
    }
}
