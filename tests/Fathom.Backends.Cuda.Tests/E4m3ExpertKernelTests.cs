using Fathom.Backends.Cpu;
using Fathom.Core;
using Fathom.TestSupport;
using Xunit;

namespace Fathom.Backends.Cuda.Tests;

/// <summary>
/// The FP8 expert kernels on e4m3 activations (quantize_e4m3x3, mma_moe_gateup_e4m3, mma_moe_down_e4m3) against
/// the reference backend: routed experts with their tokens in expert order, the shared expert in the last grid
/// row of both launches, widths with a short last 128-column block, experts that get no token.
/// </summary>
public sealed unsafe class E4m3ExpertKernelTests
{
    /// <summary>
    /// Three e4m3 terms keep about 12 significant bits of each activation (relative error ≤ 2^-13 each); the
    /// products' error is well under this. A fragment or scale mistake gives errors of order one.
    /// </summary>
    private const double Tolerance = 1e-3;

    [CudaTheory(MinComputeCapability = 89)]
    [InlineData(320, 192, 256, 4, 2, 13)]
    [InlineData(256, 128, 128, 3, 1, 40)]
    [InlineData(2048, 1408, 2816, 8, 6, 32)]
    public void MatchTheReferenceBackend(int hidden, int width, int sharedWidth, int experts, int topk, int tokens)
    {
        var random = new Random((hidden * 7) + width + experts + tokens);
        var owners = new List<object>();
        WeightMatrix Weight(int rows, int cols)
        {
            var w = GemvKernelTests.RandomWeight("fp8", rows, cols, random, out var owner);
            owners.Add(owner);
            return w;
        }

        var gate = Enumerable.Range(0, experts).Select(_ => Weight(width, hidden)).ToArray();
        var up = Enumerable.Range(0, experts).Select(_ => Weight(width, hidden)).ToArray();
        var down = Enumerable.Range(0, experts).Select(_ => Weight(hidden, width)).ToArray();
        var sharedGate = Weight(sharedWidth, hidden);
        var sharedUp = Weight(sharedWidth, hidden);
        var sharedDown = Weight(hidden, sharedWidth);
        var x = new float[tokens * hidden];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1) * (i % 97 == 0 ? 20f : 1f);
        }

        // Each token's topk distinct experts, never the last one (an expert without tokens); pairs in expert order.
        int pairs = tokens * topk;
        var chosen = new int[pairs];
        for (int t = 0; t < tokens; t++)
        {
            var ids = Enumerable.Range(0, Math.Max(experts - 1, topk)).OrderBy(_ => random.Next()).Take(topk).ToArray();
            ids.CopyTo(chosen, t * topk);
        }

        var order = Enumerable.Range(0, pairs).OrderBy(p => chosen[p]).ThenBy(p => p).ToArray();
        var offsets = new int[experts + 1];
        foreach (int e in chosen)
        {
            offsets[e + 1]++;
        }

        for (int e = 0; e < experts; e++)
        {
            offsets[e + 1] += offsets[e];
        }

        var activeIds = Enumerable.Range(0, experts).Where(e => offsets[e + 1] > offsets[e]).ToArray();
        int[] active = [activeIds.Length, .. activeIds];

        // Reference: per pair rank r (expert e, token order[r] / topk) act = silu(x·gateᵀ)·(x·upᵀ), out = act·downᵀ.
        var reference = new ReferenceBackend();
        var actRef = new float[pairs * width];
        var outRef = new float[pairs * hidden];
        var g = new float[width];
        var u = new float[width];
        for (int r = 0; r < pairs; r++)
        {
            int e = chosen[order[r]], t = order[r] / topk;
            var row = x.AsSpan(t * hidden, hidden);
            reference.MatMul(gate[e], row, g, 1);
            reference.MatMul(up[e], row, u, 1);
            for (int i = 0; i < width; i++)
            {
                actRef[(r * width) + i] = g[i] / (1f + MathF.Exp(-g[i])) * u[i];
            }

            reference.MatMul(down[e], actRef.AsSpan(r * width, width), outRef.AsSpan(r * hidden, hidden), 1);
        }

        var sharedActRef = new float[tokens * sharedWidth];
        var sharedOutRef = new float[tokens * hidden];
        var sg = new float[tokens * sharedWidth];
        var su = new float[tokens * sharedWidth];
        reference.MatMul(sharedGate, x, sg, tokens);
        reference.MatMul(sharedUp, x, su, tokens);
        for (int i = 0; i < sg.Length; i++)
        {
            sharedActRef[i] = sg[i] / (1f + MathF.Exp(-sg[i])) * su[i];
        }

        reference.MatMul(sharedDown, sharedActRef, sharedOutRef, tokens);

        using var gpu = new CudaContext(0, new CudaOptions { KernelCacheFolder = Path.Combine(Path.GetTempPath(), "fathom-test-kernels") });
        DeviceMatrix[] Upload(WeightMatrix[] ws) => ws.Select(w => DeviceMatrix.Upload(gpu, w, "test expert")).ToArray();
        var dg = Upload(gate);
        var du = Upload(up);
        var dd = Upload(down);
        var dsg = DeviceMatrix.Upload(gpu, sharedGate, "shared gate");
        var dsu = DeviceMatrix.Upload(gpu, sharedUp, "shared up");
        var dsd = DeviceMatrix.Upload(gpu, sharedDown, "shared down");
        ulong Pointers(IEnumerable<ulong> values)
        {
            var array = values.Select(v => (long)v).ToArray();
            ulong p = gpu.Allocate(array.Length * 8L, "pointers");
            gpu.Upload<long>(p, array);
            return p;
        }

        ulong Ints(int[] values)
        {
            ulong p = gpu.Allocate(values.Length * 4L, "ints");
            gpu.Upload<int>(p, values);
            return p;
        }

        ulong Floats(long count)
        {
            ulong p = gpu.Allocate(count * 4, "floats");
            gpu.Upload<float>(p, Enumerable.Repeat(float.NaN, (int)count).ToArray());
            return p;
        }

        ulong gws = Pointers(dg.Select(m => m.Data)), gss = Pointers(dg.Select(m => m.Scales));
        ulong uws = Pointers(du.Select(m => m.Data)), uss = Pointers(du.Select(m => m.Scales));
        ulong dws = Pointers(dd.Select(m => m.Data)), dss = Pointers(dd.Select(m => m.Scales));
        ulong dOffsets = Ints(offsets), dActive = Ints(active), dOrder = Ints(order);
        ulong dx = gpu.Allocate(x.Length * 4L, "x");
        gpu.Upload<float>(dx, x);
        ulong act = Floats((long)pairs * width), sharedAct = Floats((long)tokens * sharedWidth);
        ulong output = Floats((long)pairs * hidden), sharedOutput = Floats((long)tokens * hidden);
        var qx = E4m3Rows.Allocate(gpu, tokens, hidden, "e4m3 x");
        var qa = E4m3Rows.Allocate(gpu, pairs, width, "e4m3 act");
        var qs = E4m3Rows.Allocate(gpu, tokens, sharedWidth, "e4m3 shared act");
        var d = dd[0];
        uint gridRows = (uint)activeIds.Length + 1;

        Quantize(gpu, dx, hidden, tokens, qx, 0, 0, 0, default);
        gpu.Launch(
            "mma_moe_gateup_e4m3", (uint)((Math.Max(width, sharedWidth) + 63) / 64), gridRows, 1, 128, 0,
            gws, gss, uws, uss, width, hidden, dg[0].BlockRows, dg[0].BlockCols, dg[0].ScaleCols, qx.Terms, qx.Scales,
            dOffsets, dActive, dOrder, topk, act, dsg.Data, dsg.Scales, dsu.Data, dsu.Scales, sharedWidth, tokens, sharedAct);
        Quantize(gpu, act, width, pairs, qa, sharedAct, sharedWidth, tokens, qs);
        gpu.Launch(
            "mma_moe_down_e4m3", (uint)((hidden + 127) / 128), gridRows, 1, 128, 0,
            dws, dss, hidden, width, d.BlockRows, d.BlockCols, d.ScaleCols, qa.Terms, qa.Scales, dOffsets, dActive, output,
            dsd.Data, dsd.Scales, sharedWidth, dsd.ScaleCols, qs.Terms, qs.Scales, sharedOutput, tokens);
        gpu.Synchronize();
        GC.KeepAlive(owners);

        AssertClose(gpu, actRef, act, "routed activations");
        AssertClose(gpu, outRef, output, "routed outputs");
        AssertClose(gpu, sharedActRef, sharedAct, "shared activations");
        AssertClose(gpu, sharedOutRef, sharedOutput, "shared outputs");
    }

    private static void Quantize(CudaContext gpu, ulong x, int cols, int rows, E4m3Rows q, ulong x2, int cols2, int rows2, E4m3Rows q2)
    {
        long blocks = Math.Max((long)rows * ((cols + 127) / 128), (long)rows2 * ((cols2 + 127) / 128));
        gpu.Launch(
            "quantize_e4m3x3", (uint)((blocks + 7) / 8), rows2 > 0 ? 2u : 1u, 1, 256, 0,
            x, (long)cols, rows, cols, q.Terms, q.Scales, x2, (long)cols2, rows2, cols2, q2.Terms, q2.Scales);
    }

    private static void AssertClose(CudaContext gpu, float[] expected, ulong actual, string what)
    {
        var a = new float[expected.Length];
        fixed (float* p = a)
        {
            gpu.DownloadAsync(p, actual, a.Length * 4L);
            gpu.Synchronize();
        }

        double diff = 0, norm = 0;
        for (int i = 0; i < a.Length; i++)
        {
            Assert.False(float.IsNaN(a[i]), $"{what}: element {i} was not written");
            diff += (a[i] - (double)expected[i]) * (a[i] - (double)expected[i]);
            norm += (double)expected[i] * expected[i];
        }

        double error = Math.Sqrt(diff / norm);
        Assert.True(error < Tolerance, $"{what}: relative difference {error:E2} from the reference backend (tolerance {Tolerance:E0})");
    }
}
