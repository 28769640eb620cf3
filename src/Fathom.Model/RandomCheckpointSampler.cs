using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Fathom.Core;

namespace Fathom.Model;

/// <summary>
/// The contents of random checkpoint tensors, fast and reproducible. Element i of a tensor is a pure
/// function of (seed, tensor name, i): 64-bit word i/4 of a counter-based SplitMix64 stream supplies four
/// 16-bit quantile indices, each looked up in a table of the normal distribution's 65536 quantiles already
/// converted to the stored type. Any range can therefore be filled independently and in parallel, the
/// result does not depend on the thread count or the sharding, and a BF16 and an FP8 checkpoint of one
/// seed hold the same weights up to FP8 rounding. The quantiles cut the tails at ±4.3 standard deviations.
/// </summary>
public static class RandomCheckpointSampler
{
    /// <summary>An FP8 code of ±448 (the e4m3 maximum) stands for this many standard deviations.</summary>
    public const double Fp8Sigmas = 4.5;

    private const ulong Gamma = 0x9E3779B97F4A7C15;
    private const int TableSize = 1 << 16;
    private static readonly Lazy<byte[]> Fp8Table = new(BuildFp8Table);
    private static readonly ConcurrentDictionary<double, ushort[]> Bf16Tables = new();

    /// <summary>The block scale (weight_scale_inv) that turns the FP8 codes into weights of standard deviation <paramref name="std"/>.</summary>
    public static float Fp8ScaleFor(double std) => (float)(std * Fp8Sigmas / 448.0);

    /// <summary>The stream of one tensor: its name hashed (FNV-1a) into the seed.</summary>
    public static ulong TensorSeed(ulong seed, string name)
    {
        ulong hash = 0xCBF29CE484222325;
        foreach (byte b in Encoding.UTF8.GetBytes(name))
        {
            hash = (hash ^ b) * 0x100000001B3;
        }

        return Mix(seed ^ Mix(hash));
    }

    /// <summary>Writes elements [first, first + destination.Length / element size) of <paramref name="tensor"/>.</summary>
    public static void Fill(RandomCheckpointTensor tensor, ulong tensorSeed, long first, Span<byte> destination)
    {
        if (tensor.Fill == RandomCheckpointFill.Constant)
        {
            FillConstant(tensor.Type, tensor.Value, destination);
            return;
        }

        switch (tensor.Type)
        {
            case DType.BF16:
                FillNormal(Bf16Tables.GetOrAdd(tensor.Value, BuildBf16Table), tensorSeed, first, MemoryMarshal.Cast<byte, ushort>(destination));
                break;
            case DType.F8E4M3:
                FillNormal(Fp8Table.Value, tensorSeed, first, destination);
                break;
            default:
                throw new ArgumentException($"tensor '{tensor.Name}': normal samples are stored as BF16 or F8_E4M3, not {tensor.Type.ToSafeTensors()}", nameof(tensor));
        }
    }

    /// <summary>The normal quantile function (Acklam's rational approximation, relative error below 1.2e-9).</summary>
    public static double InverseNormal(double p)
    {
        const double Low = 0.02425;
        if (p < Low)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            return Tail(q);
        }

        if (p > 1 - Low)
        {
            double q = Math.Sqrt(-2 * Math.Log(1 - p));
            return -Tail(q);
        }

        double x = p - 0.5, r = x * x;
        return (((((((-3.969683028665376e+01 * r) + 2.209460984245205e+02) * r) - 2.759285104469687e+02) * r + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * x
            / (((((((-5.447609879822406e+01 * r) + 1.615858368580409e+02) * r) - 1.556989798598866e+02) * r + 6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1);

        static double Tail(double q) =>
            (((((((-7.784894002430293e-03 * q) - 3.223964580411365e-01) * q) - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00)
            / ((((((7.784695709041462e-03 * q) + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q) + 3.754408661907416e+00) * q + 1);
    }

    private static void FillNormal<T>(T[] table, ulong seed, long first, Span<T> destination)
        where T : unmanaged
    {
        int i = 0, n = destination.Length;
        long element = first;
        // A partial first word, then whole words of four samples, then a partial last word.
        while (i < n && (element & 3) != 0)
        {
            destination[i++] = table[(int)((Word(seed, element >> 2) >> (16 * (int)(element & 3))) & 0xFFFF)];
            element++;
        }

        ulong counter = seed + ((ulong)(element >> 2) * Gamma);
        ref T start = ref MemoryMarshal.GetReference(destination);
        for (; i + 4 <= n; i += 4)
        {
            counter += Gamma;
            ulong z = Mix(counter);
            System.Runtime.CompilerServices.Unsafe.Add(ref start, i) = table[(int)(z & 0xFFFF)];
            System.Runtime.CompilerServices.Unsafe.Add(ref start, i + 1) = table[(int)((z >> 16) & 0xFFFF)];
            System.Runtime.CompilerServices.Unsafe.Add(ref start, i + 2) = table[(int)((z >> 32) & 0xFFFF)];
            System.Runtime.CompilerServices.Unsafe.Add(ref start, i + 3) = table[(int)(z >> 48)];
        }

        element = first + i;
        for (; i < n; i++, element++)
        {
            destination[i] = table[(int)((Word(seed, element >> 2) >> (16 * (int)(element & 3))) & 0xFFFF)];
        }
    }

    private static ulong Word(ulong seed, long word) => Mix(seed + ((ulong)(word + 1) * Gamma));

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }

    private static void FillConstant(DType type, double value, Span<byte> destination)
    {
        switch (type)
        {
            case DType.BF16:
                MemoryMarshal.Cast<byte, ushort>(destination).Fill(BFloat16.FromSingle((float)value));
                break;
            case DType.F32:
                MemoryMarshal.Cast<byte, float>(destination).Fill((float)value);
                break;
            case DType.F8E4M3:
                destination.Fill(Float8E4M3.FromSingle((float)value));
                break;
            default:
                throw new ArgumentException($"constant tensors are BF16, F32 or F8_E4M3, not {type.ToSafeTensors()}", nameof(type));
        }
    }

    private static double Quantile(int index) => InverseNormal((index + 0.5) / TableSize);

    private static ushort[] BuildBf16Table(double std)
    {
        var table = new ushort[TableSize];
        for (int u = 0; u < TableSize; u++)
        {
            table[u] = BFloat16.FromSingle((float)(std * Quantile(u)));
        }

        return table;
    }

    private static byte[] BuildFp8Table()
    {
        var table = new byte[TableSize];
        for (int u = 0; u < TableSize; u++)
        {
            table[u] = Float8E4M3.FromSingle((float)(Quantile(u) * 448.0 / Fp8Sigmas));
        }

        return table;
    }
}
