using Fathom.Core.Tests;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>Runs alone: process-wide allocation counters would see other tests' allocations.</summary>
[CollectionDefinition(nameof(AllocationCounting), DisableParallelization = true)]
public sealed class AllocationCounting;

/// <summary>The matrix kernels allocate nothing once their per-worker buffers have grown.</summary>
[Collection(nameof(AllocationCounting))]
public sealed class CpuMatMulAllocationTests
{
    public static TheoryData<string> Layouts => new("F32", "BF16", "F8E4M3 128x128");

    [Theory]
    [MemberData(nameof(Layouts))]
    public void MatMulAllocatesNothingInSteadyState(string layout)
    {
        using var cpu = new CpuBackend(2);
        var w = WeightLayouts.Create(layout, 512, 300, seed: 1);
        var x = TestMatrix.Activations(4 * 300, seed: 2);
        var y = new float[4 * 512];
        AssertNoAllocation(() => cpu.MatMul(w.W, x, y, 4), layout);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void MatMulTransposedAllocatesNothingInSteadyState(string layout)
    {
        using var cpu = new CpuBackend(2);
        var w = WeightLayouts.Create(layout, 300, 600, seed: 1);
        var x = TestMatrix.Activations(4 * 300, seed: 2);
        var y = new float[4 * 600];
        AssertNoAllocation(() => cpu.MatMulTransposed(w.W, x, y, 4), layout);
    }

    private static void AssertNoAllocation(Action call, string what)
    {
        for (int i = 0; i < 50; i++)
        {
            call();
        }

        // The calling thread's counter is exact; the process-wide one also sees the workers. Either can catch a
        // one-off runtime allocation (tiered JIT promotion, the test host's own threads), so the least over a few
        // windows counts: an allocation in the kernel would show in every window.
        long leastOnThread = long.MaxValue, leastInProcess = long.MaxValue;
        for (int window = 0; window < 5; window++)
        {
            long thread = GC.GetAllocatedBytesForCurrentThread();
            long process = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 100; i++)
            {
                call();
            }

            leastInProcess = Math.Min(leastInProcess, GC.GetTotalAllocatedBytes(precise: true) - process);
            leastOnThread = Math.Min(leastOnThread, GC.GetAllocatedBytesForCurrentThread() - thread);
        }

        Assert.True(leastOnThread == 0, $"{what}: 100 calls allocated {leastOnThread} bytes on the calling thread in every window");
        Assert.True(leastInProcess < 1024, $"{what}: 100 calls allocated {leastInProcess} bytes in the process in every window");
    }
}
