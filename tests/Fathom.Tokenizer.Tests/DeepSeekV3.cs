using Fathom.TestSupport;

namespace Fathom.Tokenizer.Tests;

/// <summary>The real DeepSeek-V3 tokenizer, loaded once for all tests.</summary>
internal static class DeepSeekV3
{
    private static readonly Lazy<TextTokenizer> Shared = new(() => TextTokenizer.Load(TestPaths.DeepSeekV3Tokenizer));

    public static TextTokenizer Tokenizer => Shared.Value;
}
