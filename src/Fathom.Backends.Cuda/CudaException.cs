namespace Fathom.Backends.Cuda;

/// <summary>A CUDA driver, NVRTC or cuBLASLt call failed, or no usable GPU was found; the message names the call.</summary>
public sealed class CudaException : Exception
{
    public CudaException(string message)
        : base(message)
    {
    }

    public CudaException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public CudaException()
    {
    }
}
