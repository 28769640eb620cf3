using Fathom.Model;

namespace Fathom.Cli;

/// <summary>
/// `--load auto`: read the weights into memory when the safetensors files take at most 60% of the memory
/// available now (decoding from anonymous huge-page memory measured 30-40% faster than from mapped
/// files, benchmarks/log.md), map them otherwise so that models larger than RAM still run.
/// </summary>
public static class ResidencyChoice
{
    public static WeightResidency For(string modelDirectory, long? availableBytes = null)
    {
        long files = Directory.GetFiles(modelDirectory, "*.safetensors").Sum(f => new FileInfo(f).Length);
        long available = availableBytes ?? AvailableMemory();
        return files <= available * 0.6 ? WeightResidency.InMemory : WeightResidency.Mapped;
    }

    /// <summary>MemAvailable from /proc/meminfo where there is one, else what the runtime reports.</summary>
    private static long AvailableMemory()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }
}
