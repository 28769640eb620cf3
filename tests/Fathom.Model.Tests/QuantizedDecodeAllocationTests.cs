using Fathom.Backends.Cpu;
using Fathom.Core;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>With quantized weights too, decode steps allocate nothing: the kernels reuse their activation buffers.</summary>
[Collection(nameof(AllocationCounting))]
public sealed class QuantizedDecodeAllocationTests
{
    [Theory]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4K)]
    public void SteadyStateDecodeAllocatesNothing(DType format)
    {
        using var golden = new GoldenCase("tiny-v3");
        using var backend = new CpuBackend();
        using var model = LoadedModel.Load(golden.ModelDirectory, new LoadOptions { Quantize = format });
        var transformer = new Transformer(model, backend);
        var cache = transformer.CreateCache(512);
        var logits = new float[model.Config.VocabSize];
        int[] token = [5];
        transformer.Forward(golden.Sequences[3].Ids, cache, logits);
        cache.Truncate(64);
        for (int i = 0; i < 4; i++)
        {
            transformer.Forward(token, cache, logits);
        }

        // The quietest of several windows, as in DecodeAllocationTests (the counter is process-wide).
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

        Assert.True(allocated < 512, $"{format}: 16 decode steps allocated {allocated} bytes");
    }
}
