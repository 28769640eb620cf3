using System.Runtime.InteropServices;
using Fathom.Backends.Cuda.Interop;

namespace Fathom.Backends.Cuda;

/// <summary>Whether this machine can run the CUDA backend, without creating a context.</summary>
public static class CudaProbe
{
    /// <summary>Null when an NVIDIA driver and at least one device are present; otherwise why not.</summary>
    public static string? Unavailable()
    {
        if (!NativeLibrary.TryLoad("libcuda.so.1", out nint handle))
        {
            return "no NVIDIA driver (libcuda.so.1) on this machine";
        }

        NativeLibrary.Free(handle);
        int init = CudaDriver.cuInit(0);
        if (init != 0)
        {
            return $"the NVIDIA driver is present but cuInit failed (error {init}): no usable GPU";
        }

        return CudaDriver.cuDeviceGetCount(out int count) == 0 && count > 0 ? null : "the NVIDIA driver sees no CUDA device";
    }
}
