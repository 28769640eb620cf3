using System.Runtime.InteropServices;

namespace Fathom.Backends.Cuda.Interop;

/// <summary>
/// The CUDA driver API entry points Fathom uses. libcuda.so.1 is the driver's own library (installed
/// with the GPU driver, not the toolkit); it is loaded at the first call, so a machine without a GPU
/// never touches it unless a CUDA device is asked for.
/// </summary>
internal static unsafe partial class CudaDriver
{
    private const string Library = "libcuda.so.1";

    public const int AttributeMultiprocessorCount = 16;
    public const int AttributeComputeCapabilityMajor = 75;
    public const int AttributeComputeCapabilityMinor = 76;
    public const int FunctionAttributeMaxDynamicSharedBytes = 8;
    public const int CaptureModeRelaxed = 2;
    public const int LaunchAttributeProgrammaticStreamSerialization = 6;

    [LibraryImport(Library)]
    public static partial int cuInit(uint flags);

    [LibraryImport(Library)]
    public static partial int cuDriverGetVersion(out int version);

    [LibraryImport(Library)]
    public static partial int cuDeviceGetCount(out int count);

    [LibraryImport(Library)]
    public static partial int cuDeviceGet(out int device, int ordinal);

    [LibraryImport(Library)]
    public static partial int cuDeviceGetName(byte* name, int length, int device);

    [LibraryImport(Library)]
    public static partial int cuDeviceGetAttribute(out int value, int attribute, int device);

    [LibraryImport(Library)]
    public static partial int cuDeviceTotalMem_v2(out nuint bytes, int device);

    [LibraryImport(Library)]
    public static partial int cuDevicePrimaryCtxRetain(out nint context, int device);

    [LibraryImport(Library)]
    public static partial int cuDevicePrimaryCtxRelease_v2(int device);

    [LibraryImport(Library)]
    public static partial int cuCtxSetCurrent(nint context);

    [LibraryImport(Library)]
    public static partial int cuMemGetInfo_v2(out nuint free, out nuint total);

    [LibraryImport(Library)]
    public static partial int cuMemAlloc_v2(out ulong pointer, nuint bytes);

    [LibraryImport(Library)]
    public static partial int cuMemFree_v2(ulong pointer);

    [LibraryImport(Library)]
    public static partial int cuMemAllocHost_v2(out nint pointer, nuint bytes);

    [LibraryImport(Library)]
    public static partial int cuMemFreeHost(nint pointer);

    [LibraryImport(Library)]
    public static partial int cuMemcpyHtoD_v2(ulong destination, void* source, nuint bytes);

    [LibraryImport(Library)]
    public static partial int cuMemcpyDtoH_v2(void* destination, ulong source, nuint bytes);

    [LibraryImport(Library)]
    public static partial int cuMemcpyHtoDAsync_v2(ulong destination, void* source, nuint bytes, nint stream);

    [LibraryImport(Library)]
    public static partial int cuMemcpyDtoHAsync_v2(void* destination, ulong source, nuint bytes, nint stream);

    [LibraryImport(Library)]
    public static partial int cuMemcpyDtoDAsync_v2(ulong destination, ulong source, nuint bytes, nint stream);

    [LibraryImport(Library)]
    public static partial int cuMemsetD8_v2(ulong destination, byte value, nuint count);

    [LibraryImport(Library)]
    public static partial int cuModuleLoadData(out nint module, void* image);

    [LibraryImport(Library)]
    public static partial int cuModuleUnload(nint module);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int cuModuleGetFunction(out nint function, nint module, string name);

    [LibraryImport(Library)]
    public static partial int cuFuncSetAttribute(nint function, int attribute, int value);

    [LibraryImport(Library)]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ, uint sharedBytes, nint stream, void** parameters, void** extra);

    /// <summary>cuLaunchKernelEx: a launch with attributes (CUDA 11.8+ drivers).</summary>
    [LibraryImport(Library)]
    public static partial int cuLaunchKernelEx(LaunchConfig* config, nint function, void** parameters, void** extra);

    [LibraryImport(Library)]
    public static partial int cuStreamCreate(out nint stream, uint flags);

    [LibraryImport(Library)]
    public static partial int cuStreamDestroy_v2(nint stream);

    [LibraryImport(Library)]
    public static partial int cuStreamSynchronize(nint stream);

    [LibraryImport(Library)]
    public static partial int cuStreamBeginCapture_v2(nint stream, int mode);

    [LibraryImport(Library)]
    public static partial int cuStreamEndCapture(nint stream, out nint graph);

    [LibraryImport(Library)]
    public static partial int cuGraphInstantiateWithFlags(out nint executable, nint graph, ulong flags);

    [LibraryImport(Library)]
    public static partial int cuGraphLaunch(nint executable, nint stream);

    [LibraryImport(Library)]
    public static partial int cuGraphExecDestroy(nint executable);

    [LibraryImport(Library)]
    public static partial int cuGraphDestroy(nint graph);

    [LibraryImport(Library)]
    public static partial int cuGetErrorName(int error, out nint name);

    [LibraryImport(Library)]
    public static partial int cuGetErrorString(int error, out nint text);

    /// <summary>Throws a <see cref="CudaException"/> naming the call when <paramref name="result"/> is not CUDA_SUCCESS.</summary>
    public static void Check(int result, string call)
    {
        if (result == 0)
        {
            return;
        }

        string name = cuGetErrorName(result, out nint n) == 0 && n != 0 ? Marshal.PtrToStringUTF8(n) ?? "?" : "?";
        string text = cuGetErrorString(result, out nint t) == 0 && t != 0 ? Marshal.PtrToStringUTF8(t) ?? string.Empty : string.Empty;
        throw new CudaException($"{call} failed: {name} ({result}) {text}".TrimEnd());
    }

    /// <summary>CUlaunchConfig (cuda.h), 64-bit layout.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct LaunchConfig
    {
        public uint GridX, GridY, GridZ, BlockX, BlockY, BlockZ, SharedBytes;
        public nint Stream;
        public LaunchAttribute* Attributes;
        public uint AttributeCount;
    }

    /// <summary>CUlaunchAttribute: the id, padding to 8 bytes, and a 64-byte value union (here its first int).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 72)]
    public struct LaunchAttribute
    {
        [FieldOffset(0)]
        public int Id;

        [FieldOffset(8)]
        public int Value;
    }
}
