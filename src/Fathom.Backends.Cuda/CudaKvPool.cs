namespace Fathom.Backends.Cuda;

/// <summary>
/// The paged MLA cache on the device: for every layer a pool of pages of <see cref="PageTokens"/> rows
/// of [latent | roped key] float32 values, and a page table [sequences, pages per sequence] the attention
/// kernel reads. Storage, the free lists (allocation touches no device memory) and the table are kept
/// apart; <see cref="CudaSequenceCache"/> is the only thing that takes or returns pages.
/// </summary>
internal sealed class CudaKvPool
{
    private readonly CudaContext _gpu;
    private readonly Stack<int> _freePages = new();
    private readonly Stack<int> _freeSlots = new();

    public CudaKvPool(CudaContext gpu, int layers, int width, int pageTokens, int totalTokens, int maxSequences, int maxContext)
    {
        _gpu = gpu;
        Layers = layers;
        Width = width;
        PageTokens = pageTokens;
        Pages = Math.Max(1, (totalTokens + pageTokens - 1) / pageTokens);
        PagesPerSequence = (maxContext + pageTokens - 1) / pageTokens;
        MaxSequences = maxSequences;
        LayerStride = (long)Pages * pageTokens * width;
        Storage = gpu.Allocate(LayerStride * layers * sizeof(float), $"the latent cache ({(long)Pages * pageTokens} tokens x {layers} layers)");
        Tables = gpu.Allocate((long)maxSequences * PagesPerSequence * sizeof(int), "the page table");
        for (int p = Pages - 1; p >= 0; p--)
        {
            _freePages.Push(p);
        }

        for (int s = maxSequences - 1; s >= 0; s--)
        {
            _freeSlots.Push(s);
        }
    }

    public int Layers { get; }

    public int Width { get; }

    public int PageTokens { get; }

    public int Pages { get; }

    public int PagesPerSequence { get; }

    public int MaxSequences { get; }

    /// <summary>Floats between the pools of consecutive layers.</summary>
    public long LayerStride { get; }

    public ulong Storage { get; }

    public ulong Tables { get; }

    public long Bytes => LayerStride * Layers * sizeof(float);

    public int FreePages => _freePages.Count;

    public ulong Layer(int layer) => Storage + (ulong)(layer * LayerStride * sizeof(float));

    public int TakeSlot() => _freeSlots.Count > 0
        ? _freeSlots.Pop()
        : throw new InvalidOperationException($"all {MaxSequences} GPU sequence slots are in use; dispose finished sessions or raise the limit");

    public void ReturnSlot(int slot) => _freeSlots.Push(slot);

    public int TakePage() => _freePages.Count > 0
        ? _freePages.Pop()
        : throw new InvalidOperationException($"the GPU latent cache is full ({Pages} pages of {PageTokens} tokens); dispose finished sessions or give it more tokens (--kv-cache-tokens)");

    public void ReturnPage(int page) => _freePages.Push(page);

    /// <summary>Writes a sequence's page list into its row of the page table.</summary>
    public unsafe void WriteTable(int slot, ReadOnlySpan<int> pages, int from)
    {
        ulong row = Tables + (ulong)(((long)slot * PagesPerSequence + from) * sizeof(int));
        _gpu.Upload(row, pages[from..]);
    }
}
