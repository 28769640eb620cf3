using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Activation rows quantized for the Q4_K kernel, as GGML's Q8_K: super-blocks of 256 int8 levels with a
/// float32 scale d = max|x| / 127 (halves round to even), plus the level sum of every 32 (one per Q4_K
/// sub-block), which the kernel multiplies by the sub-block's min. Buffers grow on demand and are reused.
/// </summary>
/// <param name="paired">
/// Levels in the order the 512-bit kernel reads them: in every 128 levels the two middle runs of 32 trade
/// places (0–31, 64–95, 32–63, 96–127), so that one 64-byte load matches the low nibbles of two Q4_K quant
/// groups and the next one their high nibbles. The sums stay in sub-block order.
/// </param>
internal sealed unsafe class Q8KActivations(bool paired = false)
{
    public const int Block = 256;

    private const int SubBlock = 32;

    private sbyte[] _levels = [];
    private float[] _scales = [];
    private short[] _sums = [];

    /// <summary>Row r's levels start at Levels + r·Cols.</summary>
    public sbyte* Levels { get; private set; }

    /// <summary>Row r's super-block scales start at Scales + r·(Cols / 256).</summary>
    public float* Scales { get; private set; }

    /// <summary>Row r's sums of 32 levels start at Sums + r·(Cols / 32).</summary>
    public short* Sums { get; private set; }

    public int Rows { get; private set; }

    public int Cols { get; private set; }

    public void Quantize(float* x, int rows, int cols)
    {
        long levels = (long)rows * cols;
        if (_levels.Length < levels)
        {
            _levels = GC.AllocateUninitializedArray<sbyte>((int)Math.Max(levels, _levels.Length + (_levels.Length / 2)), pinned: true);
        }

        int blocks = rows * (cols / Block);
        if (_scales.Length < blocks)
        {
            _scales = GC.AllocateUninitializedArray<float>(Math.Max(blocks, _scales.Length + (_scales.Length / 2)), pinned: true);
        }

        int subBlocks = rows * (cols / SubBlock);
        if (_sums.Length < subBlocks)
        {
            _sums = GC.AllocateUninitializedArray<short>(Math.Max(subBlocks, _sums.Length + (_sums.Length / 2)), pinned: true);
        }

        Levels = (sbyte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_levels));
        Scales = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_scales));
        Sums = (short*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_sums));
        Rows = rows;
        Cols = cols;
        for (long b = 0; b < blocks; b++)
        {
            sbyte* q = Levels + (b * Block);
            Scales[b] = QuantizeBlock(x + (b * Block), q, Sums + (b * (Block / SubBlock)));
            if (paired)
            {
                for (int half = 0; half < Block; half += 4 * SubBlock)
                {
                    var second = Vector256.Load(q + half + SubBlock);
                    Vector256.Load(q + half + (2 * SubBlock)).Store(q + half + SubBlock);
                    second.Store(q + half + (2 * SubBlock));
                }
            }
        }
    }

    /// <summary>Where level (row, col) is stored, relative to <see cref="Levels"/>.</summary>
    public long LevelIndex(int row, int col)
    {
        int run = (col / SubBlock) % 4;
        int stored = paired && (run == 1 || run == 2) ? col + ((run == 1 ? 1 : -1) * SubBlock) : col;
        return ((long)row * Cols) + stored;
    }

    /// <summary>The value activation element (row, col) now stands for: d · q.</summary>
    public float Value(int row, int col) =>
        Scales[((long)row * (Cols / Block)) + (col / Block)] * Levels[LevelIndex(row, col)];

    private static float QuantizeBlock(float* x, sbyte* q, short* sums)
    {
        float amax = 0;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256<float>.Zero;
            for (; i < Block; i += 8)
            {
                m = Vector256.Max(m, Vector256.Abs(Vector256.Load(x + i)));
            }

            var h = Vector128.Max(m.GetLower(), m.GetUpper());
            h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
            h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
            amax = h.ToScalar();
        }
        else
        {
            for (; i < Block; i++)
            {
                amax = Math.Max(amax, Math.Abs(x[i]));
            }
        }

        if (amax == 0)
        {
            new Span<sbyte>(q, Block).Clear();
            new Span<short>(sums, Block / SubBlock).Clear();
            return 0;
        }

        // GGML scales by -127/max of the signed extreme; with ties to even the levels only change sign, and d
        // with them, so every product d·q is the same.
        float iscale = 127f / amax;
        if (Vector256.IsHardwareAccelerated)
        {
            var s = Vector256.Create(iscale);
            for (int j = 0; j < Block; j += SubBlock)
            {
                var i0 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + j) * s));
                var i1 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + j + 8) * s));
                var i2 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + j + 16) * s));
                var i3 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + j + 24) * s));
                Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).Store(q + j);
                sums[j / SubBlock] = (short)Vector256.Sum((i0 + i1) + (i2 + i3));
            }
        }
        else
        {
            for (int j = 0; j < Block; j += SubBlock)
            {
                int sum = 0;
                for (int k = j; k < j + SubBlock; k++)
                {
                    int level = Math.Min(127, (int)MathF.Round(x[k] * iscale));
                    q[k] = (sbyte)level;
                    sum += level;
                }

                sums[j / SubBlock] = (short)sum;
            }
        }

        return 1 / iscale;
    }
}
