namespace Fathom.Model;

/// <summary>
/// The MLA cache of one sequence in host memory, as the CPU attention sees it: per layer and position a row
/// [normalised latent (kv_lora_rank) | roped key (qk_rope_head_dim)]. <see cref="KvCache"/> keeps the rows of
/// a layer in one array; a paged cache keeps them in fixed-size pages and gathers them when asked.
/// </summary>
public interface IKvCache : ISequenceCache
{
    /// <summary>The row of a layer at a position: [latent | roped key].</summary>
    Span<float> Row(int layer, int position);

    /// <summary>
    /// The pinned array that holds rows [0, count) of a layer contiguously ([count, width] from index 0),
    /// or null when the rows are not contiguous and must be gathered with <see cref="CopyRows"/>.
    /// </summary>
    float[]? ContiguousRows(int layer);

    /// <summary>Copies rows [0, count) of a layer into <paramref name="destination"/> as [count, width].</summary>
    void CopyRows(int layer, int count, Span<float> destination);

    /// <summary>Commits <paramref name="count"/> rows written after the current length.</summary>
    void Advance(int count);
}
