using System.Reflection;
using System.Text;
using Fathom.Backends.Cuda.Interop;

namespace Fathom.Backends.Cuda;

/// <summary>
/// One GPU: its primary context, a stream, the compiled kernel module, device memory and launches.
/// Everything runs on the one stream, so work is ordered without events.
/// </summary>
internal sealed unsafe class CudaContext : IDisposable
{
    private static readonly string[] Sources = ["common.cuh", "ops.cu", "gemv.cu", "moe.cu", "mma.cu", "attention.cu", "sampling.cu"];

    private readonly nint _context;
    private readonly nint _module;
    private readonly Dictionary<string, nint> _functions = [];
    private readonly List<ulong> _allocations = [];
    private readonly List<nint> _hostAllocations = [];
    private bool _disposed;

    public CudaContext(int ordinal, CudaOptions options)
    {
        try
        {
            CudaDriver.Check(CudaDriver.cuInit(0), "cuInit");
        }
        catch (DllNotFoundException e)
        {
            throw new CudaException("no NVIDIA driver on this machine (libcuda.so.1 cannot be loaded); run with --device cpu", e);
        }

        CudaDriver.Check(CudaDriver.cuDeviceGetCount(out int count), "cuDeviceGetCount");
        if (ordinal < 0 || ordinal >= count)
        {
            throw new CudaException($"cuda:{ordinal} does not exist: this machine has {count} CUDA device(s)");
        }

        CudaDriver.Check(CudaDriver.cuDeviceGet(out int device, ordinal), "cuDeviceGet");
        Ordinal = ordinal;
        Device = device;
        var name = stackalloc byte[256];
        CudaDriver.Check(CudaDriver.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        Name = Encoding.UTF8.GetString(name, new ReadOnlySpan<byte>(name, 256).IndexOf((byte)0));
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(out int sms, CudaDriver.AttributeMultiprocessorCount, device), "cuDeviceGetAttribute");
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(out int major, CudaDriver.AttributeComputeCapabilityMajor, device), "cuDeviceGetAttribute");
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(out int minor, CudaDriver.AttributeComputeCapabilityMinor, device), "cuDeviceGetAttribute");
        CudaDriver.Check(CudaDriver.cuDeviceTotalMem_v2(out nuint total, device), "cuDeviceTotalMem");
        Multiprocessors = sms;
        ComputeCapability = (major * 10) + minor;
        TotalMemory = (long)total;
        if (ComputeCapability < 80)
        {
            throw new CudaException($"cuda:{ordinal} ({Name}) has compute capability {major}.{minor}; Fathom's kernels need 8.0 (Ampere) or newer");
        }

        // Hopper and newer: each kernel may be launched while its predecessor drains (the kernels wait
        // for it with griddepcontrol.wait before touching what it wrote, see common.cuh).
        ProgrammaticLaunch = options.ProgrammaticLaunch && ComputeCapability >= 90;
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(out _context, device), "cuDevicePrimaryCtxRetain");
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamCreate(out nint stream, 1), "cuStreamCreate");
        Stream = stream;

        var nvrtc = new Nvrtc(options.LibraryFolders);
        string source = KernelSource();
        string[] defines =
        [
            .. ProgrammaticLaunch ? ["-DFATHOM_PDL=1"] : Array.Empty<string>(),
            .. options.StreamHint != 0 ? [$"-DFATHOM_STREAM_HINT={options.StreamHint}"] : Array.Empty<string>(),
            .. options.KernelDefines.Select(d => "-D" + d),
        ];
        byte[] cubin = nvrtc.CompileCached(source, "fathom", ComputeCapability, options.KernelCacheFolder, out bool cached, defines);
        KernelsFromCache = cached;
        NvrtcVersion = nvrtc.Version;
        fixed (byte* image = cubin)
        {
            CudaDriver.Check(CudaDriver.cuModuleLoadData(out _module, image), "cuModuleLoadData");
        }
    }

    public int Ordinal { get; }

    public int Device { get; }

    public string Name { get; }

    public int Multiprocessors { get; }

    public int ComputeCapability { get; }

    public long TotalMemory { get; }

    public nint Stream { get; }

    /// <summary>Whether this GPU and the options allow launches with the programmatic-stream-serialization attribute.</summary>
    public bool ProgrammaticLaunch { get; }

    /// <summary>
    /// Whether the launches from now on carry it (when <see cref="ProgrammaticLaunch"/>): the caller turns it
    /// off around cuBLASLt work, whose kernels fill the GPU and gain nothing from a neighbour's early blocks.
    /// </summary>
    public bool Overlap { get; set; } = true;

    public bool KernelsFromCache { get; }

    public string NvrtcVersion { get; }

    /// <summary>Bytes this context allocated on the device.</summary>
    public long AllocatedBytes { get; private set; }

    public void MakeCurrent() => CudaDriver.Check(CudaDriver.cuCtxSetCurrent(_context), "cuCtxSetCurrent");

    public (long Free, long Total) MemoryInfo()
    {
        CudaDriver.Check(CudaDriver.cuMemGetInfo_v2(out nuint free, out nuint total), "cuMemGetInfo");
        return ((long)free, (long)total);
    }

    /// <summary>The concatenated kernel sources embedded in this assembly.</summary>
    public static string KernelSource()
    {
        var assembly = typeof(CudaContext).Assembly;
        var text = new StringBuilder();
        foreach (string file in Sources)
        {
            using var stream = assembly.GetManifestResourceStream($"Fathom.Kernels.{file}")
                ?? throw new CudaException($"the kernel source {file} is missing from {assembly.GetName().Name}");
            using var reader = new StreamReader(stream);
            text.Append("#line 1 \"").Append(file).Append("\"\n").Append(reader.ReadToEnd()).Append('\n');
        }

        return text.ToString();
    }

    public nint Function(string name)
    {
        if (!_functions.TryGetValue(name, out nint f))
        {
            CudaDriver.Check(CudaDriver.cuModuleGetFunction(out f, _module, name), $"cuModuleGetFunction({name})");
            _functions[name] = f;
        }

        return f;
    }

    public ulong Allocate(long bytes, string what)
    {
        bytes = Math.Max(bytes, 256);
        int result = CudaDriver.cuMemAlloc_v2(out ulong pointer, (nuint)bytes);
        if (result != 0)
        {
            var (free, _) = MemoryInfo();
            throw new CudaException($"cuda:{Ordinal} ({Name}): cannot allocate {bytes / 1048576.0:F1} MiB for {what} ({free / 1048576.0:F0} MiB free of {TotalMemory / 1048576.0:F0}, error {result})");
        }

        _allocations.Add(pointer);
        AllocatedBytes += bytes;
        return pointer;
    }

    public void Free(ulong pointer, long bytes)
    {
        if (_allocations.Remove(pointer))
        {
            CudaDriver.Check(CudaDriver.cuMemFree_v2(pointer), "cuMemFree");
            AllocatedBytes -= Math.Max(bytes, 256);
        }
    }

    /// <summary>Page-locked host memory (fast, asynchronous copies).</summary>
    public nint AllocateHost(long bytes)
    {
        CudaDriver.Check(CudaDriver.cuMemAllocHost_v2(out nint pointer, (nuint)Math.Max(bytes, 64)), "cuMemAllocHost");
        _hostAllocations.Add(pointer);
        return pointer;
    }

    public void Upload(ulong destination, void* source, long bytes)
    {
        if (bytes > 0)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyHtoD_v2(destination, source, (nuint)bytes), "cuMemcpyHtoD");
        }
    }

    public void Upload<T>(ulong destination, ReadOnlySpan<T> source)
        where T : unmanaged
    {
        fixed (T* p = source)
        {
            Upload(destination, p, (long)source.Length * sizeof(T));
        }
    }

    public void UploadAsync(ulong destination, void* source, long bytes) =>
        CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(destination, source, (nuint)bytes, Stream), "cuMemcpyHtoDAsync");

    public void DownloadAsync(void* destination, ulong source, long bytes) =>
        CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(destination, source, (nuint)bytes, Stream), "cuMemcpyDtoHAsync");

    /// <summary>
    /// Device-to-device copy bandwidth, bytes read plus bytes written per second (median of 10 timed
    /// copies of <paramref name="bytes"/>): the ceiling a weight-streaming decode step is held against.
    /// </summary>
    public double MeasureCopyBandwidth(long bytes)
    {
        ulong a = Allocate(bytes, "bandwidth probe");
        ulong b = Allocate(bytes, "bandwidth probe");
        try
        {
            CudaDriver.Check(CudaDriver.cuMemsetD8_v2(a, 0x5a, (nuint)bytes), "cuMemsetD8");
            var times = new List<double>();
            for (int i = 0; i < 13; i++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                CudaDriver.Check(CudaDriver.cuMemcpyDtoDAsync_v2(b, a, (nuint)bytes, Stream), "cuMemcpyDtoDAsync");
                Synchronize();
                if (i >= 3)
                {
                    times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds);
                }
            }

            times.Sort();
            return 2.0 * bytes / times[times.Count / 2];
        }
        finally
        {
            Free(a, bytes);
            Free(b, bytes);
        }
    }

    /// <summary>Sets <paramref name="bytes"/> of device memory to zero (synchronously).</summary>
    public void Zero(ulong pointer, long bytes) => CudaDriver.Check(CudaDriver.cuMemsetD8_v2(pointer, 0, (nuint)bytes), "cuMemsetD8");

    public void Synchronize() => CudaDriver.Check(CudaDriver.cuStreamSynchronize(Stream), "cuStreamSynchronize");

    public void Launch(string kernel, uint gridX, uint gridY, uint gridZ, uint block, uint sharedBytes, params ReadOnlySpan<KernelArg> args)
    {
        if (gridX == 0 || gridY == 0 || gridZ == 0)
        {
            return;
        }

        nint f = Function(kernel);
        var slots = stackalloc ulong[args.Length];
        var pointers = stackalloc void*[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            slots[i] = args[i].Bits;
            pointers[i] = slots + i;
        }

        if (!ProgrammaticLaunch || !Overlap)
        {
            CudaDriver.Check(CudaDriver.cuLaunchKernel(f, gridX, gridY, gridZ, block, 1, 1, sharedBytes, Stream, pointers, null), kernel);
            return;
        }

        var attribute = new CudaDriver.LaunchAttribute { Id = CudaDriver.LaunchAttributeProgrammaticStreamSerialization, Value = 1 };
        var config = new CudaDriver.LaunchConfig
        {
            GridX = gridX,
            GridY = gridY,
            GridZ = gridZ,
            BlockX = block,
            BlockY = 1,
            BlockZ = 1,
            SharedBytes = sharedBytes,
            Stream = Stream,
            Attributes = &attribute,
            AttributeCount = 1,
        };
        CudaDriver.Check(CudaDriver.cuLaunchKernelEx(&config, f, pointers, null), kernel);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        MakeCurrent();
        CudaDriver.cuStreamSynchronize(Stream);
        foreach (ulong p in _allocations)
        {
            CudaDriver.cuMemFree_v2(p);
        }

        foreach (nint p in _hostAllocations)
        {
            CudaDriver.cuMemFreeHost(p);
        }

        _allocations.Clear();
        _hostAllocations.Clear();
        CudaDriver.cuModuleUnload(_module);
        CudaDriver.cuStreamDestroy_v2(Stream);
        CudaDriver.cuDevicePrimaryCtxRelease_v2(Device);
    }
}
