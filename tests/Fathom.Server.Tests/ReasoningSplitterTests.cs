using Xunit;

namespace Fathom.Server.Tests;

public sealed class ReasoningSplitterTests
{
    private static (string Reasoning, string Content) Run(bool startsInThinking, params string[] pieces)
    {
        var splitter = new ReasoningSplitter(startsInThinking);
        string reasoning = string.Empty, content = string.Empty;
        foreach (string piece in pieces)
        {
            var (r, c) = splitter.Push(piece);
            reasoning += r;
            content += c;
        }

        var (fr, fc) = splitter.Flush();
        return (reasoning + fr, content + fc);
    }

    [Theory]
    [InlineData(false, new[] { "<think>", "let me see", "</think>", "\n\nThe answer." }, "let me see", "The answer.")]
    [InlineData(false, new[] { "<th", "ink>a</th", "ink>b" }, "a", "b")]
    [InlineData(false, new[] { "<t", "able>" }, "", "<table>")]
    [InlineData(false, new[] { "Plain ", "answer" }, "", "Plain answer")]
    [InlineData(true, new[] { "thinking…", "</", "think>\n", "done" }, "thinking…", "done")]
    [InlineData(true, new[] { "cut off mid thought </thi" }, "cut off mid thought </thi", "")]
    public void SplitsTheThoughtFromTheAnswerAcrossPieces(bool startsInThinking, string[] pieces, string reasoning, string content)
    {
        Assert.Equal((reasoning, content), Run(startsInThinking, pieces));
    }
}
