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

    /// <summary>Compute capability of device 0 as major · 10 + minor (89 for sm_89); null where <see cref="Unavailable"/> says why not.</summary>
    public static int? ComputeCapability()
    {
        if (Unavailable() is not null || CudaDriver.cuDeviceGet(out int device, 0) != 0)
        {
            return null;
        }

        return CudaDriver.cuDeviceGetAttribute(out int major, CudaDriver.AttributeComputeCapabilityMajor, device) == 0
            && CudaDriver.cuDeviceGetAttribute(out int minor, CudaDriver.AttributeComputeCapabilityMinor, device) == 0
            ? (major * 10) + minor
            : null;
    }
}
