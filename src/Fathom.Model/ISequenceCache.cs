namespace Fathom.Model;

/// <summary>
/// The attention cache of one sequence, wherever it lives (host arrays for <see cref="Transformer"/>,
/// device pages for a GPU forward). Created by <see cref="IForwardPass.CreateCache"/> and only usable
/// with the forward pass that created it. Disposing returns its storage.
/// </summary>
public interface ISequenceCache : IDisposable
{
    /// <summary>Tokens committed so far; the next forward pass writes from here.</summary>
    int Length { get; }

    int Capacity { get; }

    /// <summary>Forgets every position from <paramref name="length"/> on.</summary>
    void Truncate(int length);
}
