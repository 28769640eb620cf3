using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fathom.Core.Tests;

/// <summary>Pinned byte buffers for block-format tests, and the deterministic inputs they encode.</summary>
internal static unsafe class BlockBytes
{
    public static byte[] Pinned(long length, out byte* pointer)
    {
        var bytes = GC.AllocateArray<byte>((int)Math.Max(length, 1), pinned: true);
        pointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(bytes));
        return bytes;
    }

    public static byte[] Encode(DType type, ReadOnlySpan<float> x)
    {
        var bytes = Pinned(type.BytesFor(x.Length), out byte* p);
        BlockQuantization.QuantizeRow(type, x, p);
        return bytes;
    }

    public static float[] Decode(DType type, byte[] bytes, int count)
    {
        var y = new float[count];
        fixed (byte* p = bytes)
        {
            BlockQuantization.DequantizeRange(type, p, 0, count, y);
        }

        return y;
    }

    /// <summary>
    /// xorshift32 values in [-1, 1) with 24-bit mantissas, scaled by 2^-(block index mod 8) so that blocks
    /// span several magnitudes; every third 256-block is made all positive. Every value is an exact float, so
    /// the same inputs can be written down anywhere (they were fed to GGML's reference encoders).
    /// </summary>
    public static float[] Deterministic(int count)
    {
        var x = new float[count];
        uint s = 12345;
        for (int i = 0; i < count; i++)
        {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            int v = (int)(s >> 8) - (1 << 23);
            float value = v / 8388608f * MathF.ScaleB(1f, -((i / 32) % 8));
            x[i] = (i / 256) % 3 == 1 ? MathF.Abs(value) : value;
        }

        return x;
    }

    /// <summary>Gaussian-like weights (sum of uniforms) of standard deviation about <paramref name="sigma"/>.</summary>
    public static float[] Gaussian(int count, double sigma, int seed)
    {
        var random = new Random(seed);
        var x = new float[count];
        for (int i = 0; i < count; i++)
        {
            double sum = 0;
            for (int k = 0; k < 4; k++)
            {
                sum += random.NextDouble() - 0.5;
            }

            x[i] = (float)(sum * Math.Sqrt(3) * sigma);
        }

        return x;
    }
}
