namespace Fathom.Model;

/// <summary>
/// Attention storage for many sequences in fixed-size pages that the caller hands out: the forward pass
/// keeps the values (host arrays, device memory), a serving engine decides which page holds what (its
/// allocator, prefix sharing of full pages, preemption). Pages are numbered [0, <see cref="PageCount"/>).
/// Created by <see cref="IForwardPass.CreatePagedPool"/>; disposing gives the storage back.
/// </summary>
public interface IPagedKvPool : IDisposable
{
    int PageCount { get; }

    /// <summary>Tokens per page.</summary>
    int PageSize { get; }

    /// <summary>Bytes the pages take, wherever they live.</summary>
    long Bytes { get; }

    /// <summary>A sequence over this pool with an empty page table.</summary>
    IPagedSequenceCache CreateSequence();
}
