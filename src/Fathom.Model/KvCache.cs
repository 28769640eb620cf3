using Fathom.Core;

namespace Fathom.Model;

/// <summary>
/// The MLA cache of one sequence: per layer and position, the normalised latent (kv_lora_rank values)
/// followed by the roped shared key (qk_rope_head_dim values). Rows are written by the attention of each
/// layer during a forward pass; <see cref="Advance"/> then commits them.
/// </summary>
public sealed class KvCache : IKvCache
{
    private readonly float[][] _layers;

    public KvCache(ModelConfig config, int capacity, int layers = -1)
    {
        if (capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "the cache needs room for at least one token");
        }

        LatentWidth = config.KvLoraRank;
        Width = config.KvCacheWidth;
        Capacity = capacity;
        _layers = new float[layers < 0 ? config.NumHiddenLayers : layers][];
        for (int l = 0; l < _layers.Length; l++)
        {
            _layers[l] = PinnedBuffer.Allocate(checked(capacity * Width));
        }
    }

    /// <summary>Tokens committed so far; the next forward pass writes from here.</summary>
    public int Length { get; private set; }

    public int Capacity { get; }

    /// <summary>Values per token per layer: kv_lora_rank + qk_rope_head_dim.</summary>
    public int Width { get; }

    public int LatentWidth { get; }

    public long Bytes => (long)_layers.Length * Capacity * Width * sizeof(float);

    /// <summary>The row of a layer at a position: [latent | roped key].</summary>
    public Span<float> Row(int layer, int position) => _layers[layer].AsSpan(position * Width, Width);

    /// <summary>Rows [0, count) as a matrix [count, Width].</summary>
    public WeightMatrix Keys(int layer, int count) => WeightMatrix.FromPinned(_layers[layer], count, Width);

    /// <summary>The latent part of rows [0, count) as a matrix [count, kv_lora_rank].</summary>
    public WeightMatrix Latents(int layer, int count) => WeightMatrix.FromPinned(_layers[layer], count, LatentWidth, 0, Width);

    public float[]? ContiguousRows(int layer) => _layers[layer];

    public void CopyRows(int layer, int count, Span<float> destination) => _layers[layer].AsSpan(0, count * Width).CopyTo(destination);

    /// <summary>Commits <paramref name="count"/> rows written after the current length; a length below it forgets the rest.</summary>
    public void Advance(int count)
    {
        if (count < -Length || Length + count > Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"cache length {Length} + {count} outside [0, {Capacity}]");
        }

        Length += count;
    }

    /// <summary>Forgets every position from <paramref name="length"/> on.</summary>
    public void Truncate(int length) => Advance(Math.Min(length, Length) - Length);

    /// <summary>Nothing to return: the rows are managed arrays.</summary>
    public void Dispose()
    {
    }
}
