using Fathom.Backends.Cpu.Kernels.Lanes;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>A test of the AVX-512 kernels: skipped, with the reason, on CPUs without AVX-512 F + BW.</summary>
public sealed class Avx512FactAttribute : FactAttribute
{
    public Avx512FactAttribute()
    {
        if (!Lanes512.IsSupported)
        {
            Skip = "needs a CPU with AVX-512 F and BW";
        }
    }
}
