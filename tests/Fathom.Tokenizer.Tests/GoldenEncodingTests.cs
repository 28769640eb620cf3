namespace Fathom.Tokenizer.Tests;

public sealed class GoldenEncodingTests
{
    [Theory]
    [MemberData(nameof(Golden.EncodeIndices), MemberType = typeof(Golden))]
    public void EncodeMatchesHuggingFace(int index)
    {
        var golden = Golden.EncodeCases[index];

        Assert.Equal(golden.Ids, DeepSeekV3.Tokenizer.Encode(golden.Text, addSpecialTokens: false));
    }

    [Theory]
    [MemberData(nameof(Golden.EncodeIndices), MemberType = typeof(Golden))]
    public void EncodeWithSpecialTokensAddsBos(int index)
    {
        var golden = Golden.EncodeCases[index];

        Assert.Equal(golden.IdsWithSpecial, DeepSeekV3.Tokenizer.Encode(golden.Text, addSpecialTokens: true));
    }

    [Theory]
    [MemberData(nameof(Golden.EncodeIndices), MemberType = typeof(Golden))]
    public void DecodeMatchesHuggingFace(int index)
    {
        var golden = Golden.EncodeCases[index];

        Assert.Equal(golden.Decoded, DeepSeekV3.Tokenizer.Decode(golden.Ids));
    }
}
