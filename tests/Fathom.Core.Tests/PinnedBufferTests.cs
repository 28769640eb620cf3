using Fathom.Core;
using Xunit;

namespace Fathom.Core.Tests;

/// <summary>PinnedBuffer hands out and grows scratch arrays.</summary>
public sealed class PinnedBufferTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(1000, 1000)]
    public void AllocateGivesAtLeastOneElement(int length, int expected)
    {
        Assert.Equal(expected, PinnedBuffer.Allocate(length).Length);
    }

    [Fact]
    public void EnsureKeepsABufferThatIsLargeEnough()
    {
        var buffer = PinnedBuffer.Allocate(10);
        Assert.Same(buffer, PinnedBuffer.Ensure(buffer, 10));
        Assert.Same(buffer, PinnedBuffer.Ensure(buffer, 3));
    }

    [Theory]
    [InlineData(10, 11, 15)]
    [InlineData(10, 40, 40)]
    public void EnsureGrowsByAtLeastHalf(int size, int needed, int expected)
    {
        Assert.Equal(expected, PinnedBuffer.Ensure(PinnedBuffer.Allocate(size), needed).Length);
    }

    [Fact]
    public void EnsureAllocatesWhenThereIsNoBuffer()
    {
        Assert.Equal(7, PinnedBuffer.Ensure(null, 7).Length);
    }
}
