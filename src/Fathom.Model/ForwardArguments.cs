namespace Fathom.Model;

/// <summary>The argument checks every <see cref="IForwardPass"/> makes, worded alike for the host and the GPU pass.</summary>
public static class ForwardArguments
{
    /// <summary>Some tokens, each inside the vocabulary, that fit in the cache.</summary>
    public static void CheckTokens(ReadOnlySpan<int> tokens, ISequenceCache cache, int vocab)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (tokens.Length == 0)
        {
            throw new ArgumentException("nothing to run: no tokens", nameof(tokens));
        }

        if (cache.Length + tokens.Length > cache.Capacity)
        {
            throw new ArgumentException($"the sequence would grow to {cache.Length + tokens.Length} tokens, beyond the cache's {cache.Capacity}");
        }

        foreach (int id in tokens)
        {
            if ((uint)id >= (uint)vocab)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {id} is outside the vocabulary [0, {vocab})");
            }
        }
    }

    /// <summary>A logits buffer of at least <paramref name="rows"/> × <paramref name="vocab"/> values.</summary>
    public static void CheckLogits(Span<float> logits, int rows, int vocab)
    {
        long needed = (long)rows * vocab;
        if (logits.Length < needed)
        {
            throw new ArgumentException($"logits buffer holds {logits.Length} values, {needed} needed", nameof(logits));
        }
    }
}
