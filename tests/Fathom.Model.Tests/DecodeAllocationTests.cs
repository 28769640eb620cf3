using Fathom.Model;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>Runs alone: allocation counters are process-wide and other tests would pollute them.</summary>
[CollectionDefinition(nameof(AllocationCounting), DisableParallelization = true)]
public sealed class AllocationCounting;

/// <summary>Decode steps allocate nothing once buffers have been sized.</summary>
[Collection(nameof(AllocationCounting))]
public sealed class DecodeAllocationTests
{
    [Theory]
    [InlineData("tiny-v3")]
    [InlineData("tiny-v3-fp8")]
    [InlineData("tiny-v2-lite")]
    public void SteadyStateDecodeAllocatesNothing(string name)
    {
        using var golden = new GoldenCase(name);
        using var run = golden.Open();
        long allocated = QuietestDecodeAllocation(run.Transformer, golden);
        Assert.True(allocated < 512, $"{name}: 16 decode steps allocated {allocated} bytes");
    }

    /// <summary>Bytes allocated by 16 decode steps, the quietest of six windows, after warming up to a longer context.</summary>
    internal static long QuietestDecodeAllocation(Transformer transformer, GoldenCase golden)
    {
        var cache = transformer.CreateCache(512);
        var logits = new float[transformer.VocabSize];
        int[] token = [5];
        // Warm up to a longer context than measured so no buffer needs to grow.
        transformer.Forward(golden.Sequences[3].Ids, cache, logits);
        cache.Truncate(64);
        for (int i = 0; i < 4; i++)
        {
            transformer.Forward(token, cache, logits);
        }

        // The counter is process-wide (background JIT tiering allocates too), so take the quietest of
        // several windows: a per-token allocation would show in every one of them.
        long allocated = long.MaxValue;
        for (int window = 0; window < 6; window++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 16; i++)
            {
                transformer.Forward(token, cache, logits);
            }

            allocated = Math.Min(allocated, GC.GetTotalAllocatedBytes(precise: true) - before);
        }

        return allocated;
    }
}
