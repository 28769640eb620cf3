namespace Fathom.Tokenizer.Tests;

public sealed class StreamingDecoderTests
{
    [Theory]
    [MemberData(nameof(Golden.EncodeIndices), MemberType = typeof(Golden))]
    public void TokenByTokenEqualsFullDecode(int index)
    {
        var golden = Golden.EncodeCases[index];
        var decoder = DeepSeekV3.Tokenizer.CreateStreamingDecoder();

        var pieces = golden.IdsWithSpecial.Select(decoder.Push).Append(decoder.Flush()).ToList();

        Assert.Equal(DeepSeekV3.Tokenizer.Decode(golden.IdsWithSpecial), string.Concat(pieces));
        Assert.All(pieces, piece =>
        {
            Assert.DoesNotContain('\uFFFD', piece);
            Assert.False(piece.Length > 0 && char.IsHighSurrogate(piece[^1]), "a piece ends in half a surrogate pair");
            Assert.False(piece.Length > 0 && char.IsLowSurrogate(piece[0]), "a piece starts with half a surrogate pair");
        });
    }

    [Theory]
    [MemberData(nameof(Golden.EncodeIndices), MemberType = typeof(Golden))]
    public void SkippingSpecialTokensMatchesDecode(int index)
    {
        var golden = Golden.EncodeCases[index];
        var decoder = DeepSeekV3.Tokenizer.CreateStreamingDecoder(skipSpecialTokens: true);

        var text = string.Concat(golden.IdsWithSpecial.Select(decoder.Push)) + decoder.Flush();

        Assert.Equal(DeepSeekV3.Tokenizer.Decode(golden.IdsWithSpecial, skipSpecialTokens: true), text);
        Assert.DoesNotContain("<｜begin▁of▁sentence｜>", text, StringComparison.Ordinal);
    }

    [Fact]
    public void EmojiSplitAcrossTokensIsHeldBackUntilComplete()
    {
        var golden = Golden.EncodeCases.Single(c => c.Text.StartsWith("Emoji:", StringComparison.Ordinal));
        var decoder = DeepSeekV3.Tokenizer.CreateStreamingDecoder();

        var pieces = golden.Ids.Select(decoder.Push).ToList();

        // Some ids carry only part of an emoji's four bytes: they produce nothing until the rest arrives.
        Assert.Contains("", pieces);
        Assert.Contains(golden.Ids, id => DeepSeekV3.Tokenizer.Decode([id]).Contains('\uFFFD', StringComparison.Ordinal));
        Assert.Equal(golden.Text, string.Concat(pieces) + decoder.Flush());
    }

    [Fact]
    public void IncompleteBytesBecomeReplacementCharacterOnFlush()
    {
        var tokenizer = DeepSeekV3.Tokenizer;
        var leadByte = tokenizer.TokenToId(SmallTokenizers.ByteChar(0xE4))!.Value;
        var decoder = tokenizer.CreateStreamingDecoder();

        Assert.Equal("", decoder.Push(leadByte));
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Equal("\uFFFD", tokenizer.Decode([leadByte]));
    }

    [Fact]
    public void InvalidSequenceIsEmittedOnceItCannotComplete()
    {
        var tokenizer = DeepSeekV3.Tokenizer;
        int[] ids = [tokenizer.TokenToId(SmallTokenizers.ByteChar(0xE4))!.Value, tokenizer.Encode("a", addSpecialTokens: false)[0]];
        var decoder = tokenizer.CreateStreamingDecoder();

        Assert.Equal("", decoder.Push(ids[0]));
        Assert.Equal("\uFFFDa", decoder.Push(ids[1]));
        Assert.Equal("", decoder.Flush());
        Assert.Equal("\uFFFDa", tokenizer.Decode(ids));
    }

    [Fact]
    public void ResetDropsHeldBytes()
    {
        var tokenizer = DeepSeekV3.Tokenizer;
        var decoder = tokenizer.CreateStreamingDecoder();
        decoder.Push(tokenizer.TokenToId(SmallTokenizers.ByteChar(0xE4))!.Value);

        decoder.Reset();

        Assert.Equal("hi", string.Concat(tokenizer.Encode("hi", addSpecialTokens: false).Select(decoder.Push)) + decoder.Flush());
    }

    [Theory]
    [InlineData(new byte[] { 0xE4 }, 1)]
    [InlineData(new byte[] { 0xE4, 0xB8 }, 2)]
    [InlineData(new byte[] { 0xE4, 0xB8, 0xAD }, 0)]
    [InlineData(new byte[] { 0x61, 0xF0, 0x9F, 0x98 }, 3)]
    [InlineData(new byte[] { 0xF0, 0x9F, 0x98, 0x80 }, 0)]
    [InlineData(new byte[] { 0xE0, 0x80 }, 0)]
    [InlineData(new byte[] { 0xED, 0xA0 }, 0)]
    [InlineData(new byte[] { 0xF4, 0x90 }, 0)]
    [InlineData(new byte[] { 0xC0 }, 0)]
    [InlineData(new byte[] { 0x80 }, 0)]
    public void HoldsBackOnlyValidIncompleteSequences(byte[] bytes, int held) =>
        Assert.Equal(held, StreamingDecoder.IncompleteSuffixLength(bytes));
}
