using Fathom.Engine;
using Xunit;

namespace Fathom.Engine.Tests;

public sealed class StopStringMatcherTests
{
    [Fact]
    public void TextBeforeAStopStringIsEmittedAndTheRestDropped()
    {
        var m = new StopStringMatcher(["END"]);
        Assert.Equal("hello ", m.Push("hello "));
        Assert.Equal("wor", m.Push("worE"));   // "E" could start "END"
        Assert.Equal("", m.Push("N"));
        Assert.Equal("", m.Push("Dtail"));
        Assert.True(m.Stopped);
        Assert.Equal("", m.Flush());
    }

    [Fact]
    public void AHeldPrefixIsReleasedWhenItStopsMatching()
    {
        var m = new StopStringMatcher(["\n\nUser:"]);
        Assert.Equal("a", m.Push("a\n"));
        Assert.Equal("\n\nb", m.Push("\nb"));
        Assert.False(m.Stopped);
    }

    [Fact]
    public void TheEarliestOfSeveralStopStringsWins()
    {
        var m = new StopStringMatcher(["xyz", "b"]);
        Assert.Equal("a", m.Push("abxyz"));
        Assert.True(m.Stopped);
    }

    [Fact]
    public void FlushReleasesAPendingPartialMatch()
    {
        var m = new StopStringMatcher(["stop"]);
        Assert.Equal("go ", m.Push("go st"));
        Assert.Equal("st", m.Flush());
    }

    [Fact]
    public void WithoutStopStringsTextPassesThrough()
    {
        var m = new StopStringMatcher([]);
        Assert.Equal("anything", m.Push("anything"));
    }
}
