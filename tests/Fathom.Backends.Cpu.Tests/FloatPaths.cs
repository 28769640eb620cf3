using Fathom.Backends.Cpu.Kernels;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>The dense kernels' instruction sets this CPU runs, by name (theory data must be public).</summary>
internal static class FloatPaths
{
    public static string[] Supported =>
        [.. Enum.GetValues<FloatVectorPath>().Where(FloatVectorPaths.IsSupported).Select(p => p.ToString())];

    public static string Best => FloatVectorPaths.Best.ToString();

    public static CpuBackend Backend(int threads, string path) => new(threads, Enum.Parse<FloatVectorPath>(path));
}
