namespace Fathom.Backends.Cuda;

/// <summary>Device memory of a loaded model: weights, latent cache, working buffers, and the device as the driver sees it.</summary>
public sealed record DeviceMemoryReport(long WeightBytes, long KvCacheBytes, long ScratchBytes, long DeviceUsedBytes, long DeviceTotalBytes);
