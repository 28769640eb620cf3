namespace Fathom.Model;

/// <summary>
/// The values of a paged MLA cache in host memory: per layer one array of [pages, page_size, kv_lora_rank +
/// qk_rope_head_dim]. The arrays are allocated uninitialised, so the operating system commits memory only
/// as pages are first written.
/// </summary>
public sealed class PagedKvStorage : IPagedKvPool
{
    private readonly float[][] _layers;

    public PagedKvStorage(ModelConfig config, int pageCount, int pageSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        PageCount = pageCount;
        PageSize = pageSize;
        Width = config.KvCacheWidth;
        long perLayer = (long)pageCount * pageSize * Width;
        if (perLayer > Array.MaxLength)
        {
            throw new ArgumentException($"{pageCount} pages of {pageSize} tokens need {perLayer} values per layer, more than one array holds; lower the KV cache memory");
        }

        _layers = new float[config.NumHiddenLayers][];
        for (int l = 0; l < _layers.Length; l++)
        {
            _layers[l] = GC.AllocateUninitializedArray<float>((int)perLayer);
        }
    }

    public int PageCount { get; }

    public int PageSize { get; }

    /// <summary>Values per token per layer.</summary>
    public int Width { get; }

    public int Layers => _layers.Length;

    public long Bytes => (long)_layers.Length * PageCount * PageSize * Width * sizeof(float);

    /// <summary>Bytes of cache one token takes over all layers.</summary>
    public static long BytesPerToken(ModelConfig config) => (long)config.NumHiddenLayers * config.KvCacheWidth * sizeof(float);

    public IPagedSequenceCache CreateSequence() => new PagedKvCache(this);

    /// <summary>Host arrays: the garbage collector takes them back.</summary>
    public void Dispose()
    {
    }

    public Span<float> Row(int layer, int page, int slot) => _layers[layer].AsSpan(((page * PageSize) + slot) * Width, Width);

    /// <summary>The first <paramref name="rows"/> rows of a page of one layer, contiguous.</summary>
    public ReadOnlySpan<float> PageRows(int layer, int page, int rows) => _layers[layer].AsSpan(page * PageSize * Width, rows * Width);
}
