using Fathom.Model;

namespace Fathom.Backends.Cuda;

/// <summary>
/// Pages of the device latent cache set aside for a caller that keeps its own page accounting (the
/// serving engine): its page i is device page <see cref="DevicePage"/>(i). Disposing returns them.
/// </summary>
public sealed class CudaPagedPool : IPagedKvPool
{
    private readonly CudaKvPool _pool;
    private readonly object _pass;
    private readonly int[] _pages;
    private bool _disposed;

    internal CudaPagedPool(CudaKvPool pool, object pass, int pageCount, int pageSize)
    {
        if (pageSize != pool.PageTokens)
        {
            throw new ArgumentException($"the GPU latent cache was laid out in pages of {pool.PageTokens} tokens, not {pageSize}: open the pass with that page size", nameof(pageSize));
        }

        if (pageCount < 1 || pageCount > pool.FreePages)
        {
            throw new ArgumentException($"{pageCount} pages of {pageSize} tokens asked for, but the GPU latent cache has {pool.FreePages} free: give it more tokens or ask for fewer", nameof(pageCount));
        }

        _pool = pool;
        _pass = pass;
        _pages = new int[pageCount];
        for (int i = 0; i < pageCount; i++)
        {
            _pages[i] = pool.TakePage();
        }
    }

    public int PageCount => _pages.Length;

    public int PageSize => _pool.PageTokens;

    public long Bytes => (long)_pages.Length * _pool.PageTokens * _pool.Width * _pool.Layers * sizeof(float);

    public IPagedSequenceCache CreateSequence()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new CudaPagedSequenceCache(this, _pool, _pass);
    }

    internal int DevicePage(int page) => (uint)page < (uint)_pages.Length
        ? _pages[page]
        : throw new ArgumentOutOfRangeException(nameof(page), page, $"the pool has pages [0, {_pages.Length})");

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (int page in _pages)
        {
            _pool.ReturnPage(page);
        }
    }
}
