namespace Fathom.Tokenizer.PreTokenization;

/// <summary>What a Split pre-tokenizer does with the text its pattern matched (HF's SplitDelimiterBehavior).</summary>
internal enum SplitDelimiterBehavior
{
    /// <summary>Matches are dropped.</summary>
    Removed,

    /// <summary>Each match is a piece of its own.</summary>
    Isolated,

    /// <summary>Each match is joined to the piece before it.</summary>
    MergedWithPrevious,

    /// <summary>Each match is joined to the piece after it.</summary>
    MergedWithNext,

    /// <summary>Consecutive matches are joined into one piece.</summary>
    Contiguous,
}
