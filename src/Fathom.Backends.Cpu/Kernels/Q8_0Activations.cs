using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Activation rows quantized for the Q8_0 kernel: blocks of 32 as int8 levels with a float32 scale
/// d = max|x| / 127 (halves round to even). Kept in float32 rather than Q8_0's f16 since activations
/// never leave the kernel. With <see cref="Offset"/> the levels are stored as q + 128 (unsigned), the form
/// vpdpbusd multiplies. Buffers grow on demand and are reused.
/// </summary>
internal sealed unsafe class Q8_0Activations
{
    public const int Block = 32;

    private byte[] _levels = [];
    private float[] _scales = [];

    public Q8_0Activations(bool offset)
    {
        Offset = offset;
    }

    public bool Offset { get; }

    /// <summary>Row r's levels start at Levels + r·Cols.</summary>
    public byte* Levels { get; private set; }

    /// <summary>Row r's block scales start at Scales + r·(Cols / 32).</summary>
    public float* Scales { get; private set; }

    public int Rows { get; private set; }

    public int Cols { get; private set; }

    public void Quantize(float* x, int rows, int cols)
    {
        int blocks = cols / Block;
        long levels = (long)rows * cols;
        if (_levels.Length < levels)
        {
            _levels = GC.AllocateUninitializedArray<byte>((int)Math.Max(levels, _levels.Length + (_levels.Length / 2)), pinned: true);
        }

        if (_scales.Length < (long)rows * blocks)
        {
            _scales = GC.AllocateUninitializedArray<float>(Math.Max(rows * blocks, _scales.Length + (_scales.Length / 2)), pinned: true);
        }

        Levels = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_levels));
        Scales = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_scales));
        Rows = rows;
        Cols = cols;
        long count = (long)rows * blocks;
        for (long b = 0; b < count; b++)
        {
            Scales[b] = QuantizeBlock(x + (b * Block), Levels + (b * Block), Offset);
        }
    }

    /// <summary>The value activation element (row, col) now stands for: d · q.</summary>
    public float Value(int row, int col)
    {
        int q = Levels[((long)row * Cols) + col];
        q = Offset ? q - 128 : (sbyte)(byte)q;
        return Scales[((long)row * (Cols / Block)) + (col / Block)] * q;
    }

    private static float QuantizeBlock(float* x, byte* q, bool offset)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var v0 = Vector256.Load(x);
            var v1 = Vector256.Load(x + 8);
            var v2 = Vector256.Load(x + 16);
            var v3 = Vector256.Load(x + 24);
            var m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
            var h = Vector128.Max(m.GetLower(), m.GetUpper());
            h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
            h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
            float amax = h.ToScalar();
            float d = amax / 127;
            var id = Vector256.Create(d != 0 ? 1f / d : 0f);
            var i0 = Vector256.ConvertToInt32(Vector256.Round(v0 * id));
            var i1 = Vector256.ConvertToInt32(Vector256.Round(v1 * id));
            var i2 = Vector256.ConvertToInt32(Vector256.Round(v2 * id));
            var i3 = Vector256.ConvertToInt32(Vector256.Round(v3 * id));
            var bytes = Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).AsByte();
            if (offset)
            {
                bytes ^= Vector256.Create((byte)0x80);
            }

            bytes.Store(q);
            return d;
        }

        float max = 0;
        for (int i = 0; i < Block; i++)
        {
            max = Math.Max(max, Math.Abs(x[i]));
        }

        float scale = max / 127;
        float inverse = scale != 0 ? 1f / scale : 0f;
        for (int i = 0; i < Block; i++)
        {
            int level = (int)MathF.Round(x[i] * inverse);
            q[i] = (byte)(offset ? level + 128 : level);
        }

        return scale;
    }
}
