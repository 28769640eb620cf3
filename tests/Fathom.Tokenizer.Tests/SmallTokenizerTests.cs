using System.Text.Json.Nodes;
using static Fathom.Tokenizer.Tests.SmallTokenizers;

namespace Fathom.Tokenizer.Tests;

/// <summary>Hand-made tokenizer.json files whose ids can be worked out by hand.</summary>
public sealed class SmallTokenizerTests
{
    private static readonly (string, string)[] WordMerges = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), (" ", "w"), ("o", "r"), (" w", "or"), ("l", "d"), (" wor", "ld")];

    [Fact]
    public void MergesApplyLowestRankFirst()
    {
        // In "abc" both "a b" and "b c" could merge; the one listed first (lower rank) wins.
        var abFirst = Create([("a", "b"), ("b", "c")]);
        var bcFirst = Create([("b", "c"), ("a", "b")]);

        Assert.Equal(Ids(abFirst, "ab", "c"), abFirst.Encode("abc", addSpecialTokens: false));
        Assert.Equal(Ids(bcFirst, "a", "bc"), bcFirst.Encode("abc", addSpecialTokens: false));
    }

    [Fact]
    public void EqualRanksMergeLeftmostFirst()
    {
        // "aaa": the pair (a, a) occurs twice; the left one merges, leaving "aa" + "a".
        var tokenizer = Create([("a", "a")]);

        Assert.Equal(Ids(tokenizer, "aa", "a"), tokenizer.Encode("aaa", addSpecialTokens: false));
        Assert.Equal(Ids(tokenizer, "aa", "aa"), tokenizer.Encode("aaaa", addSpecialTokens: false));
    }

    [Fact]
    public void MergesInStringAndArrayFormsAgree()
    {
        var strings = Create(WordMerges);
        var arrays = Create(WordMerges, mergesAsArrays: true);

        Assert.Equal(Ids(strings, "hello", " world"), strings.Encode("hello world", addSpecialTokens: false));
        Assert.Equal(strings.Encode("hello world, hello!", addSpecialTokens: false), arrays.Encode("hello world, hello!", addSpecialTokens: false));
    }

    [Fact]
    public void RepeatedWordsUseTheCacheAndStayIdentical()
    {
        var tokenizer = Create(WordMerges);

        var once = tokenizer.Encode("hello", addSpecialTokens: false);
        var many = tokenizer.Encode(string.Join(" ", Enumerable.Repeat("hello", 50)), addSpecialTokens: false);

        Assert.Equal(Ids(tokenizer, "hello"), once);
        Assert.Equal(99, many.Length);
    }

    [Fact]
    public void Gpt2RegexSplitsContractionsWordsAndSpaces()
    {
        var tokenizer = Create([("'", "s"), (" ", "w"), (" ", " "), ("  ", " ")], preTokenizer: ByteLevel(addPrefixSpace: false, useRegex: true));

        // GPT-2 pieces: "it" "'s" " w" "   " " x": "\s+(?!\S)" leaves the last space of a run to the next word.
        Assert.Equal(
            Ids(tokenizer, "i", "t", "'s", " w", "   ", " ", "x"),
            tokenizer.Encode("it's w    x", addSpecialTokens: false));
    }

    [Fact]
    public void AddPrefixSpaceAddsOneSpaceToEachPiece()
    {
        var tokenizer = Create([(" ", "a")], preTokenizer: ByteLevel(addPrefixSpace: true, useRegex: true));

        Assert.Equal(Ids(tokenizer, " a"), tokenizer.Encode("a", addSpecialTokens: false));
        Assert.Equal(Ids(tokenizer, " a"), tokenizer.Encode(" a", addSpecialTokens: false));
    }

    [Theory]
    [InlineData("Isolated", false, new[] { "a", "-", "b", "-", "-", "c" })]
    [InlineData("Removed", false, new[] { "a", "b", "c" })]
    [InlineData("MergedWithPrevious", false, new[] { "a-", "b-", "-", "c" })]
    [InlineData("MergedWithNext", false, new[] { "a", "-b", "-", "-c" })]
    [InlineData("Contiguous", false, new[] { "a", "-", "b", "--", "c" })]
    [InlineData("Removed", true, new[] { "-", "-", "-" })]
    public void SplitBehaviors(string behavior, bool invert, string[] pieces)
    {
        // Merges exist for every piece a behaviour could produce, so the ids show where the text was cut.
        var tokenizer = Create(
            [("a", "-"), ("b", "-"), ("-", "b"), ("-", "c"), ("-", "-")],
            preTokenizer: Sequence(Split(new JsonObject { ["String"] = "-" }, behavior, invert), ByteLevel(addPrefixSpace: false, useRegex: false)));

        Assert.Equal(Ids(tokenizer, pieces), tokenizer.Encode("a-b--c", addSpecialTokens: false));
    }

    [Fact]
    public void RegexSplitIsolatesMatches()
    {
        var tokenizer = Create(
            [("1", "2"), ("12", "3"), ("4", "5")],
            preTokenizer: Sequence(Split(new JsonObject { ["Regex"] = @"\p{N}{1,3}" }, "Isolated"), ByteLevel(addPrefixSpace: false, useRegex: false)));

        Assert.Equal(Ids(tokenizer, "123", "45"), tokenizer.Encode("12345", addSpecialTokens: false));
    }

    [Theory]
    [InlineData(true, new[] { "a", "1", "2", "b", "3" })]
    [InlineData(false, new[] { "a", "12", "b", "3" })]
    public void DigitsIsolatesOrGroupsDigits(bool individual, string[] pieces)
    {
        // As DeepSeek LLM / Coder V1 tokenizers use it: a1 and 1b would merge if the digits were not split off.
        var tokenizer = Create(
            [("a", "1"), ("1", "2"), ("2", "b"), ("b", "3")],
            preTokenizer: Sequence(new JsonObject { ["type"] = "Digits", ["individual_digits"] = individual }, ByteLevel(addPrefixSpace: false, useRegex: false)));

        Assert.Equal(Ids(tokenizer, pieces), tokenizer.Encode("a12b3", addSpecialTokens: false));
    }

    [Fact]
    public void AddedTokensAreMatchedLongestFirstAndDecodedAsWritten()
    {
        var tokenizer = Create(addedTokens: [AddedToken(300, "<a>", special: true), AddedToken(301, "<a><b>", special: true), AddedToken(302, "xyz", special: false)]);

        var ids = tokenizer.Encode("q<a><b>r<a>xyz", addSpecialTokens: false);

        Assert.Equal([Id(tokenizer, "q"), 301, Id(tokenizer, "r"), 300, 302], ids);
        Assert.Equal("q<a><b>r<a>xyz", tokenizer.Decode(ids));
        Assert.Equal("qrxyz", tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.True(tokenizer.IsSpecial(300));
        Assert.False(tokenizer.IsSpecial(302));
        Assert.Equal(303, tokenizer.VocabSize);
        Assert.Equal("<a><b>", tokenizer.IdToToken(301));
    }

    [Fact]
    public void LeftAndRightStripSwallowWhiteSpace()
    {
        var tokenizer = Create(addedTokens: [AddedToken(300, "<m>", special: true, lstrip: true, rstrip: true)]);

        Assert.Equal([Id(tokenizer, "a"), 300, Id(tokenizer, "b")], tokenizer.Encode("a  <m>\t b", addSpecialTokens: false));
    }

    [Fact]
    public void SingleWordTokensOnlyMatchOutsideWords()
    {
        var tokenizer = Create(addedTokens: [AddedToken(300, "cat", special: false, singleWord: true)]);

        Assert.Equal([300, Id(tokenizer, " "), 300], tokenizer.Encode("cat cat", addSpecialTokens: false));
        Assert.DoesNotContain(300, tokenizer.Encode("cats", addSpecialTokens: false));
        Assert.DoesNotContain(300, tokenizer.Encode("bobcat", addSpecialTokens: false));
    }

    [Fact]
    public void ConfigDecidesBosAndEos()
    {
        var added = new JsonArray(AddedToken(300, "<s>", special: true), AddedToken(301, "</s>", special: true));
        var both = Create(addedTokens: added.DeepClone().AsArray(), config: """{"add_bos_token": true, "add_eos_token": true, "bos_token": "<s>", "eos_token": {"content": "</s>", "special": true}}""");
        var none = Create(addedTokens: added.DeepClone().AsArray(), config: """{"add_bos_token": false, "bos_token": "<s>", "eos_token": "</s>"}""");

        Assert.Equal([300, Id(both, "a"), 301], both.Encode("a"));
        Assert.Equal([Id(both, "a")], both.Encode("a", addSpecialTokens: false));
        Assert.Equal([Id(none, "a")], none.Encode("a"));
        Assert.Equal(300, none.BosId);
        Assert.Equal(301, none.EosId);
    }

    [Fact]
    public void TemplateProcessingAddsSpecialTokensWithoutConfig()
    {
        var processor = JsonNode.Parse("""
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [],
             "special_tokens": {"<s>": {"id": "<s>", "ids": [300], "tokens": ["<s>"]}}}
            """);
        var tokenizer = Create(addedTokens: [AddedToken(300, "<s>", special: true)], postProcessor: processor);

        Assert.Equal([300, Id(tokenizer, "a")], tokenizer.Encode("a"));
        Assert.Null(tokenizer.BosId);
    }

    [Fact]
    public void UnknownIdsDecodeToNothing()
    {
        var tokenizer = Create();

        Assert.Equal("ab", tokenizer.Decode([Id(tokenizer, "a"), 99_999, -1, Id(tokenizer, "b")]));
        Assert.Null(tokenizer.IdToToken(99_999));
        Assert.Null(tokenizer.TokenToId("no such token"));
    }

    [Fact]
    public void LoneSurrogatesEncodeAsReplacementCharacter()
    {
        var tokenizer = Create();

        Assert.Equal(tokenizer.Encode("a\uFFFDb", addSpecialTokens: false), tokenizer.Encode("a\uD800b", addSpecialTokens: false));
    }
}
