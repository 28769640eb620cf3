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
        long allocated = DecodeAllocationTests.QuietestDecodeAllocation(new Transformer(model, backend), golden);
        Assert.True(allocated < 512, $"{format}: 16 decode steps allocated {allocated} bytes");
    }

    [Theory]
    [InlineData("tiny-v3-int8")]
    [InlineData("tiny-v3-awq")]
    public void IntegerCheckpointsDecodeWithoutAllocating(string name)
    {
        using var golden = new GoldenCase("tiny-v3");
        using var backend = new CpuBackend();
        using var model = LoadedModel.Load(Path.Combine(Fathom.TestSupport.TestPaths.GoldenCase(name), "model"));
        long allocated = DecodeAllocationTests.QuietestDecodeAllocation(new Transformer(model, backend), golden);
        Assert.True(allocated < 512, $"{name}: 16 decode steps allocated {allocated} bytes");
    }
}
