namespace Fathom.Tokenizer.PreTokenization;

/// <summary>
/// HF's ByteLevel pre-tokenizer: optionally prefixes a space and splits with the GPT-2 regex. Its mapping of
/// bytes to the byte-level alphabet is done by the BPE model, which works on UTF-8 bytes directly.
/// </summary>
internal sealed class ByteLevelPreTokenizer : IPreTokenizer
{
    /// <summary>The GPT-2 pattern HF hard-codes for <c>use_regex: true</c>.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly Lazy<SplitPreTokenizer> Gpt2Split = new(() =>
        new SplitPreTokenizer(new RegexSplitPattern(Gpt2Pattern), SplitDelimiterBehavior.Isolated, invert: false));

    private readonly bool _addPrefixSpace;
    private readonly bool _useRegex;

    public ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex)
    {
        _addPrefixSpace = addPrefixSpace;
        _useRegex = useRegex;
        if (useRegex)
        {
            _ = Gpt2Split.Value;
        }
    }

    public void Split(ReadOnlyMemory<char> piece, List<ReadOnlyMemory<char>> output)
    {
        // HF prefixes every piece that reaches this step, not only the first one.
        if (_addPrefixSpace && !piece.Span.StartsWith(' '))
        {
            piece = (" " + piece.Span.ToString()).AsMemory();
        }

        if (_useRegex)
        {
            Gpt2Split.Value.Split(piece, output);
        }
        else
        {
            output.Add(piece);
        }
    }
}
