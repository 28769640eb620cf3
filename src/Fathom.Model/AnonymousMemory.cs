using System.Runtime.InteropServices;

namespace Fathom.Model;

/// <summary>
/// A block of anonymous native memory aligned to 2 MiB, with transparent huge pages requested on Linux.
/// Weights read into such memory are not part of the page cache, so a decode step walks the same
/// (ideally huge) pages every time; memory-mapped files can end up with a mix of page sizes that
/// changes from run to run and makes bandwidth-bound decoding erratic.
/// </summary>
public sealed unsafe partial class AnonymousMemory : IDisposable
{
    /// <summary>The x86-64 huge page size: aligning to it lets the kernel back the block with 2 MiB pages.</summary>
    public const int Alignment = 2 * 1024 * 1024;

    private const int MadvHugePage = 14;
    private byte* _pointer;

    public AnonymousMemory(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        // Round up so the whole last huge page belongs to this block and can be advised with the rest.
        nuint size = (nuint)Math.Max(Alignment, (length + Alignment - 1) / Alignment * Alignment);
        _pointer = (byte*)NativeMemory.AlignedAlloc(size, Alignment);
        HugePagesAdvised = AdviseHugePages(_pointer, size);
    }

    public long Length { get; }

    /// <summary>Whether madvise(MADV_HUGEPAGE) succeeded (false off Linux or where THP is unavailable).</summary>
    public bool HugePagesAdvised { get; }

    public byte* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer == null, this);
            return _pointer;
        }
    }

    public void Dispose()
    {
        if (_pointer != null)
        {
            NativeMemory.AlignedFree(_pointer);
            _pointer = null;
        }
    }

    /// <summary>Best effort: the advice only changes performance, so every failure is ignored.</summary>
    private static bool AdviseHugePages(byte* pointer, nuint size)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return Madvise(pointer, size, MadvHugePage) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
