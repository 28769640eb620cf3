using Fathom.Backends.Cpu.Kernels;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>The dense kernels' instruction sets this CPU runs, by name (theory data must be public).</summary>
internal static class FloatPaths
{
    public static string[] Supported =>
        [.. Enum.GetValues<FloatVectorPath>().Where(FloatVectorPaths.IsSupported).Select(p => p.ToString())];

    public static string Best => FloatVectorPaths.Best.ToString();

    public static CpuBackend Backend(int threads, string path) => new(threads, Enum.Parse<FloatVectorPath>(path));

    /// <summary>
    /// (weight layout, threads, path): every layout on one and three threads with the machine's best
    /// kernels, and on three threads with each other instruction set it can run.
    /// </summary>
    public static TheoryData<string, int, string> LayoutCases()
    {
        var data = new TheoryData<string, int, string>();
        foreach (string layout in WeightLayouts.All)
        {
            foreach (string path in Supported)
            {
                if (path == Best)
                {
                    data.Add(layout, 1, path);
                }

                data.Add(layout, 3, path);
            }
        }

        return data;
    }
}
