using System.Runtime.CompilerServices;
using Fathom.Backends.Cpu.Kernels.Lanes;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Decode-sized products (one to three activation rows): weights are widened in registers straight from
/// their stored bytes and never written back, four weight rows at a time so each activation load serves
/// four rows. Memory bandwidth is the limit here, so the loop reads each weight byte exactly once.
/// </summary>
internal static unsafe class DenseDecodeKernel<TLanes>
    where TLanes : struct, IFloatLanes<TLanes>
{
    public const int MaxRows = 3;

    /// <summary>Whether the fused path handles this matrix (else the tiled path does).</summary>
    public static bool Handles(in WeightMatrix w, int rows) =>
        rows <= MaxRows && w.Type switch
        {
            DType.BF16 => w.Cols % TLanes.Count == 0,
            DType.F8E4M3 => w.Cols % 64 == 0 && w.BlockCols % 64 == 0 && w.BlockRows % 4 == 0,
            _ => false,
        };

    /// <summary>Output rows [start, end) for 1–3 activation rows; y is [rows, W.Rows].</summary>
    public static void Run(in WeightMatrix w, float* x, int rows, float* y, int start, int end)
    {
        int outs = w.Rows, cols = w.Cols;
        for (int o = start; o < end;)
        {
            // Four rows at a time where they also share one row of FP8 scale blocks; else one.
            if (o + 4 <= end && (w.Type == DType.BF16 || SameScaleRow(w, o, o + 3)))
            {
                if (w.Type == DType.BF16)
                {
                    Bf16Rows4(w, o, x, rows, cols, y, outs);
                }
                else
                {
                    Fp8Rows4(w, o, x, rows, cols, y, outs);
                }

                o += 4;
                continue;
            }

            for (int r = 0; r < rows; r++)
            {
                y[((long)r * outs) + o] = w.Type == DType.BF16
                    ? Bf16Row(w, o, x + ((long)r * cols), cols)
                    : Fp8Row(w, o, x + ((long)r * cols), cols);
            }

            o++;
        }
    }

    private static bool SameScaleRow(in WeightMatrix w, int first, int last) =>
        (w.FirstRow + first) / w.BlockRows == (w.FirstRow + last) / w.BlockRows;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bf16Rows4(in WeightMatrix w, int o, float* x, int rows, int cols, float* y, int outs)
    {
        ushort* p0 = (ushort*)w.RowPointer(o), p1 = (ushort*)w.RowPointer(o + 1), p2 = (ushort*)w.RowPointer(o + 2), p3 = (ushort*)w.RowPointer(o + 3);
        // The next tile's rows, fetched one cache line per row per 32 columns while this tile is read:
        // rows are often a page each, and hardware prefetchers stop at page boundaries.
        long ahead = 4L * w.RowStride;
        int step = TLanes.Count;
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + ((long)r * cols);
            TLanes a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c = 0; c < cols; c += step)
            {
                if (r == 0 && (c & 31) == 0)
                {
                    TLanes.Prefetch(p0 + c + ahead);
                    TLanes.Prefetch(p1 + c + ahead);
                    TLanes.Prefetch(p2 + c + ahead);
                    TLanes.Prefetch(p3 + c + ahead);
                }

                var u = TLanes.Load(xr + c);
                a0 = TLanes.MultiplyAdd(TLanes.LoadBf16(p0 + c), u, a0);
                a1 = TLanes.MultiplyAdd(TLanes.LoadBf16(p1 + c), u, a1);
                a2 = TLanes.MultiplyAdd(TLanes.LoadBf16(p2 + c), u, a2);
                a3 = TLanes.MultiplyAdd(TLanes.LoadBf16(p3 + c), u, a3);
            }

            float* yr = y + ((long)r * outs) + o;
            yr[0] = TLanes.Sum(a0);
            yr[1] = TLanes.Sum(a1);
            yr[2] = TLanes.Sum(a2);
            yr[3] = TLanes.Sum(a3);
        }
    }

    private static float Bf16Row(in WeightMatrix w, int o, float* x, int cols)
    {
        ushort* p = (ushort*)w.RowPointer(o);
        TLanes a = default;
        for (int c = 0; c < cols; c += TLanes.Count)
        {
            a = TLanes.MultiplyAdd(TLanes.LoadBf16(p + c), TLanes.Load(x + c), a);
        }

        return TLanes.Sum(a);
    }

    /// <summary>
    /// FP8 rows: the four rows lie in one row of scale blocks, so each column block has one factor
    /// (scale · 2^120) for all of them. It multiplies the widened weights, in the same order as the tiled
    /// path, so every path rounds identically.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Fp8Rows4(in WeightMatrix w, int o, float* x, int rows, int cols, float* y, int outs)
    {
        byte* p0 = w.RowPointer(o), p1 = w.RowPointer(o + 1), p2 = w.RowPointer(o + 2), p3 = w.RowPointer(o + 3);
        int blockCols = w.BlockCols, step = TLanes.Count;
        long ahead = 4L * w.RowStride;
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + ((long)r * cols);
            TLanes a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c0 = 0; c0 < cols; c0 += blockCols)
            {
                var factor = TLanes.Create(w.ScaleAt(o, c0) * Fp8Lanes.TwoPow120);
                int blockEnd = Math.Min(cols, c0 + blockCols);
                for (int c = c0; c < blockEnd; c += step)
                {
                    if (r == 0 && (c & 63) == 0)
                    {
                        TLanes.Prefetch(p0 + c + ahead);
                        TLanes.Prefetch(p1 + c + ahead);
                        TLanes.Prefetch(p2 + c + ahead);
                        TLanes.Prefetch(p3 + c + ahead);
                    }

                    var u = TLanes.Load(xr + c);
                    a0 = TLanes.MultiplyAdd(TLanes.Multiply(TLanes.LoadFp8(p0 + c), factor), u, a0);
                    a1 = TLanes.MultiplyAdd(TLanes.Multiply(TLanes.LoadFp8(p1 + c), factor), u, a1);
                    a2 = TLanes.MultiplyAdd(TLanes.Multiply(TLanes.LoadFp8(p2 + c), factor), u, a2);
                    a3 = TLanes.MultiplyAdd(TLanes.Multiply(TLanes.LoadFp8(p3 + c), factor), u, a3);
                }
            }

            float* yr = y + ((long)r * outs) + o;
            yr[0] = TLanes.Sum(a0);
            yr[1] = TLanes.Sum(a1);
            yr[2] = TLanes.Sum(a2);
            yr[3] = TLanes.Sum(a3);
        }
    }

    private static float Fp8Row(in WeightMatrix w, int o, float* x, int cols)
    {
        byte* p = w.RowPointer(o);
        TLanes a = default;
        for (int c0 = 0; c0 < cols; c0 += w.BlockCols)
        {
            var factor = TLanes.Create(w.ScaleAt(o, c0) * Fp8Lanes.TwoPow120);
            int blockEnd = Math.Min(cols, c0 + w.BlockCols);
            for (int c = c0; c < blockEnd; c += TLanes.Count)
            {
                a = TLanes.MultiplyAdd(TLanes.Multiply(TLanes.LoadFp8(p + c), factor), TLanes.Load(x + c), a);
            }
        }

        return TLanes.Sum(a);
    }
}
