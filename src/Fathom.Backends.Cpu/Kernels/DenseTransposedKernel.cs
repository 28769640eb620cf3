using System.Runtime.CompilerServices;
using Fathom.Backends.Cpu.Kernels.Lanes;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// y[r, :] = Σ_k x[r, k] · W[k, :] for float and block-quantized weights (F32, BF16, FP8, Q8_0, Q4_K): a
/// worker owns a tile of four vectors' worth of columns of y and keeps it in registers (up to four
/// activation rows) while it streams the tile's slice of every weight row once. Used by absorbed attention
/// (W_UKᵀ q, Pᵀ·latents). A vector never straddles a Q8_0 block or a Q4_K sub-block (32 columns), so each
/// is decoded with one scale (and min).
/// </summary>
internal sealed unsafe class DenseTransposedKernel<TLanes> : ITransposedKernel
    where TLanes : struct, IFloatLanes<TLanes>
{
    public int TileColumns => 4 * TLanes.Count;

    public bool Handles(in WeightMatrix w) =>
        w.Cols % TileColumns == 0 && w.Type switch
        {
            DType.F32 or DType.BF16 => true,
            DType.F8E4M3 => w.BlockCols % TileColumns == 0,
            // LoadQ8_0 and LoadQ4K decode at most two 32-column blocks (sub-blocks) per tile.
            DType.Q8_0 or DType.Q4K => TileColumns <= 2 * Q8_0.BlockElements,
            _ => false,
        };

    public void Run(in WeightMatrix w, float* x, int rows, float* y, int startTile, int endTile)
    {
        for (int tile = startTile; tile < endTile; tile++)
        {
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                Rows4(w, x + ((long)r * w.Rows), y + ((long)r * w.Cols), tile * TileColumns);
            }

            for (; r < rows; r++)
            {
                Rows1(w, x + ((long)r * w.Rows), y + ((long)r * w.Cols), tile * TileColumns);
            }
        }
    }

    /// <summary>
    /// Weight rows this far ahead of the one being read are requested early: the tile's few bytes of each row
    /// sit a row stride apart, a pattern the hardware prefetchers do not follow, so without it every row is a
    /// full memory latency (decode reads W_UK from memory once per token).
    /// </summary>
    private const int PrefetchRows = 8;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows4(in WeightMatrix w, float* x, float* y, int c0)
    {
        int k = w.Rows, cols = w.Cols;
        TileBytes(w, c0, out nint first, out nint last);
        TLanes a00 = default, a01 = default, a02 = default, a03 = default;
        TLanes a10 = default, a11 = default, a12 = default, a13 = default;
        TLanes a20 = default, a21 = default, a22 = default, a23 = default;
        TLanes a30 = default, a31 = default, a32 = default, a33 = default;
        for (int i = 0; i < k; i++)
        {
            if (i + PrefetchRows < k)
            {
                Prefetch(w.RowPointer(i + PrefetchRows), first, last);
            }

            Load(w, i, c0, out var v0, out var v1, out var v2, out var v3, out float scale);
            var s = TLanes.Create(x[i] * scale);
            a00 = TLanes.MultiplyAdd(v0, s, a00);
            a01 = TLanes.MultiplyAdd(v1, s, a01);
            a02 = TLanes.MultiplyAdd(v2, s, a02);
            a03 = TLanes.MultiplyAdd(v3, s, a03);
            s = TLanes.Create(x[k + i] * scale);
            a10 = TLanes.MultiplyAdd(v0, s, a10);
            a11 = TLanes.MultiplyAdd(v1, s, a11);
            a12 = TLanes.MultiplyAdd(v2, s, a12);
            a13 = TLanes.MultiplyAdd(v3, s, a13);
            s = TLanes.Create(x[(2 * k) + i] * scale);
            a20 = TLanes.MultiplyAdd(v0, s, a20);
            a21 = TLanes.MultiplyAdd(v1, s, a21);
            a22 = TLanes.MultiplyAdd(v2, s, a22);
            a23 = TLanes.MultiplyAdd(v3, s, a23);
            s = TLanes.Create(x[(3 * k) + i] * scale);
            a30 = TLanes.MultiplyAdd(v0, s, a30);
            a31 = TLanes.MultiplyAdd(v1, s, a31);
            a32 = TLanes.MultiplyAdd(v2, s, a32);
            a33 = TLanes.MultiplyAdd(v3, s, a33);
        }

        Store(y + c0, a00, a01, a02, a03);
        Store(y + cols + c0, a10, a11, a12, a13);
        Store(y + (2 * cols) + c0, a20, a21, a22, a23);
        Store(y + (3 * cols) + c0, a30, a31, a32, a33);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows1(in WeightMatrix w, float* x, float* y, int c0)
    {
        int k = w.Rows;
        TileBytes(w, c0, out nint first, out nint last);
        TLanes a0 = default, a1 = default, a2 = default, a3 = default;
        for (int i = 0; i < k; i++)
        {
            if (i + PrefetchRows < k)
            {
                Prefetch(w.RowPointer(i + PrefetchRows), first, last);
            }

            Load(w, i, c0, out var v0, out var v1, out var v2, out var v3, out float scale);
            var s = TLanes.Create(x[i] * scale);
            a0 = TLanes.MultiplyAdd(v0, s, a0);
            a1 = TLanes.MultiplyAdd(v1, s, a1);
            a2 = TLanes.MultiplyAdd(v2, s, a2);
            a3 = TLanes.MultiplyAdd(v3, s, a3);
        }

        Store(y + c0, a0, a1, a2, a3);
    }

    /// <summary>Row i, columns [c0, c0 + TileColumns) as four float vectors; <paramref name="scale"/> is what x must be multiplied by.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load(in WeightMatrix w, int i, int c0, out TLanes v0, out TLanes v1, out TLanes v2, out TLanes v3, out float scale)
    {
        switch (w.Type)
        {
            case DType.F32:
            {
                var p = (float*)w.RowPointer(i) + c0;
                v0 = TLanes.Load(p);
                v1 = TLanes.Load(p + TLanes.Count);
                v2 = TLanes.Load(p + (2 * TLanes.Count));
                v3 = TLanes.Load(p + (3 * TLanes.Count));
                scale = 1f;
                break;
            }

            case DType.BF16:
            {
                var p = (ushort*)w.RowPointer(i) + c0;
                v0 = TLanes.LoadBf16(p);
                v1 = TLanes.LoadBf16(p + TLanes.Count);
                v2 = TLanes.LoadBf16(p + (2 * TLanes.Count));
                v3 = TLanes.LoadBf16(p + (3 * TLanes.Count));
                scale = 1f;
                break;
            }

            case DType.Q8_0:
                LoadQ8_0(w.RowPointer(i), c0, out v0, out v1, out v2, out v3, out scale);
                break;

            case DType.Q4K:
                LoadQ4K(w.RowPointer(i), c0, out v0, out v1, out v2, out v3);
                scale = 1f;
                break;

            default:
            {
                var p = w.RowPointer(i) + c0;
                v0 = TLanes.LoadFp8(p);
                v1 = TLanes.LoadFp8(p + TLanes.Count);
                v2 = TLanes.LoadFp8(p + (2 * TLanes.Count));
                v3 = TLanes.LoadFp8(p + (3 * TLanes.Count));
                scale = w.ScaleAt(i, c0) * Fp8Lanes.TwoPow120;
                break;
            }
        }
    }

    /// <summary>The first and last byte of a row that the tile at column <paramref name="c0"/> reads.</summary>
    private static void TileBytes(in WeightMatrix w, int c0, out nint first, out nint last)
    {
        int c1 = c0 + (4 * TLanes.Count) - 1;
        (first, last) = w.Type switch
        {
            DType.F32 => ((nint)c0 * sizeof(float), ((nint)c1 * sizeof(float)) + 3),
            DType.BF16 => ((nint)c0 * 2, ((nint)c1 * 2) + 1),
            DType.Q8_0 => ((nint)(c0 / Q8_0.BlockElements) * Q8_0.BlockBytes, ((nint)(c1 / Q8_0.BlockElements) * Q8_0.BlockBytes) + Q8_0.BlockBytes - 1),
            DType.Q4K => ((nint)(c0 / Q4K.BlockElements) * Q4K.BlockBytes, ((nint)(c1 / Q4K.BlockElements) * Q4K.BlockBytes) + Q4K.BlockBytes - 1),
            _ => (c0, c1),   // FP8: a byte per column
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* row, nint first, nint last)
    {
        for (nint b = first; b < last; b += 64)
        {
            TLanes.Prefetch(row + b);
        }

        TLanes.Prefetch(row + last);
    }

    /// <summary>
    /// The tile's columns of a Q8_0 row. A tile of at most 32 columns lies in one block: its levels, with the
    /// block scale left to <paramref name="scale"/> (it rides on the activation); a 64-column tile spans two
    /// blocks, each half multiplied by its own scale.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadQ8_0(byte* row, int c0, out TLanes v0, out TLanes v1, out TLanes v2, out TLanes v3, out float scale)
    {
        int n = TLanes.Count;
        byte* block = row + ((c0 / Q8_0.BlockElements) * Q8_0.BlockBytes);
        byte* levels = block + 2 + (c0 % Q8_0.BlockElements);
        float d = QuantizedLanes.HalfToSingle(*(ushort*)block);
        v0 = TLanes.LoadInt8(levels);
        v1 = TLanes.LoadInt8(levels + n);
        if (4 * n <= Q8_0.BlockElements)
        {
            v2 = TLanes.LoadInt8(levels + (2 * n));
            v3 = TLanes.LoadInt8(levels + (3 * n));
            scale = d;
            return;
        }

        // Two blocks of 32: columns [c0, c0 + 32) and [c0 + 32, c0 + 64).
        byte* next = block + Q8_0.BlockBytes;
        var first = TLanes.Create(d);
        var second = TLanes.Create(QuantizedLanes.HalfToSingle(*(ushort*)next));
        v0 = TLanes.Multiply(v0, first);
        v1 = TLanes.Multiply(v1, first);
        v2 = TLanes.Multiply(TLanes.LoadInt8(next + 2), second);
        v3 = TLanes.Multiply(TLanes.LoadInt8(next + 2 + n), second);
        scale = 1f;
    }

    /// <summary>
    /// The tile's columns of a Q4_K row, d·scale·q − dmin·min of their sub-block: the tile lies in one
    /// super-block, and in one 32-column sub-block unless it is 64 columns wide (then two), so the header and
    /// each sub-block's scale and min are decoded once per row, not once per vector.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadQ4K(byte* row, int c0, out TLanes v0, out TLanes v1, out TLanes v2, out TLanes v3)
    {
        int n = TLanes.Count;
        byte* block = row + ((c0 / Q4K.BlockElements) * Q4K.BlockBytes);
        int within = c0 % Q4K.BlockElements;
        float d = QuantizedLanes.HalfToSingle(*(ushort*)block), dmin = QuantizedLanes.HalfToSingle(*(ushort*)(block + 2));
        SubBlock(block, within, d, dmin, out var factor, out var offset, out byte* levels, out bool high);
        v0 = TLanes.MultiplyAdd(TLanes.LoadNibbles(levels, high), factor, offset);
        v1 = TLanes.MultiplyAdd(TLanes.LoadNibbles(levels + n, high), factor, offset);
        if (4 * n > 32)
        {
            SubBlock(block, within + 32, d, dmin, out factor, out offset, out levels, out high);
            v2 = TLanes.MultiplyAdd(TLanes.LoadNibbles(levels, high), factor, offset);
            v3 = TLanes.MultiplyAdd(TLanes.LoadNibbles(levels + n, high), factor, offset);
            return;
        }

        v2 = TLanes.MultiplyAdd(TLanes.LoadNibbles(levels + (2 * n), high), factor, offset);
        v3 = TLanes.MultiplyAdd(TLanes.LoadNibbles(levels + (3 * n), high), factor, offset);
    }

    /// <summary>Column <paramref name="within"/> of a Q4_K super-block: its sub-block's d·scale and −dmin·min, and where its nibbles are.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SubBlock(byte* block, int within, float d, float dmin, out TLanes factor, out TLanes offset, out byte* levels, out bool high)
    {
        Q4K.GetScaleMin(within / 32, block + Q4K.ScalesOffset, out byte sc, out byte m);
        factor = TLanes.Create(d * sc);
        offset = TLanes.Create(-dmin * m);
        levels = block + Q4K.QuantsOffset + ((within / 64) * 32) + (within % 32);
        high = (within & 32) != 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, TLanes a0, TLanes a1, TLanes a2, TLanes a3)
    {
        TLanes.Store(a0, y);
        TLanes.Store(a1, y + TLanes.Count);
        TLanes.Store(a2, y + (2 * TLanes.Count));
        TLanes.Store(a3, y + (3 * TLanes.Count));
    }
}
