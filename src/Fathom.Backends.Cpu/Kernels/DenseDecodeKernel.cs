using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Decode-sized products (one to three activation rows): weights are widened in registers straight from
/// their stored bytes and never written back, four weight rows at a time so each activation load serves
/// four rows. Memory bandwidth is the limit here, so the loop reads each weight byte exactly once.
/// </summary>
internal static unsafe class DenseDecodeKernel
{
    public const int MaxRows = 3;

    /// <summary>Whether the fused path handles this matrix (else the tiled path does).</summary>
    public static bool Handles(in WeightMatrix w, int rows) =>
        rows <= MaxRows && Avx512F.IsSupported && (w.Type switch
        {
            DType.BF16 => w.Cols % 32 == 0,
            DType.F8E4M3 => w.Cols % 64 == 0 && w.BlockCols % 64 == 0 && w.BlockRows % 4 == 0,
            _ => false,
        });

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
        // The next tile's rows, fetched one cache line per row per step while this tile is read: rows are
        // often a page each, and hardware prefetchers stop at page boundaries.
        long ahead = 4L * w.RowStride;
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + ((long)r * cols);
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c = 0; c < cols; c += 32)
            {
                if (r == 0)
                {
                    Sse.Prefetch0(p0 + c + ahead);
                    Sse.Prefetch0(p1 + c + ahead);
                    Sse.Prefetch0(p2 + c + ahead);
                    Sse.Prefetch0(p3 + c + ahead);
                }

                var u0 = Vector512.Load(xr + c);
                var u1 = Vector512.Load(xr + c + 16);
                Accumulate(Vector512.Load(p0 + c), u0, u1, ref a0);
                Accumulate(Vector512.Load(p1 + c), u0, u1, ref a1);
                Accumulate(Vector512.Load(p2 + c), u0, u1, ref a2);
                Accumulate(Vector512.Load(p3 + c), u0, u1, ref a3);
            }

            float* yr = y + ((long)r * outs) + o;
            yr[0] = Vector512.Sum(a0);
            yr[1] = Vector512.Sum(a1);
            yr[2] = Vector512.Sum(a2);
            yr[3] = Vector512.Sum(a3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Accumulate(Vector512<ushort> v, Vector512<float> u0, Vector512<float> u1, ref Vector512<float> a)
        {
            a = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(Vector512.WidenLower(v), 16).AsSingle(), u0, a);
            a = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(Vector512.WidenUpper(v), 16).AsSingle(), u1, a);
        }
    }

    private static float Bf16Row(in WeightMatrix w, int o, float* x, int cols)
    {
        ushort* p = (ushort*)w.RowPointer(o);
        Vector512<float> a = default;
        for (int c = 0; c < cols; c += 32)
        {
            var v = Vector512.Load(p + c);
            a = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(Vector512.WidenLower(v), 16).AsSingle(), Vector512.Load(x + c), a);
            a = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(Vector512.WidenUpper(v), 16).AsSingle(), Vector512.Load(x + c + 16), a);
        }

        return Vector512.Sum(a);
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
        int blockCols = w.BlockCols;
        long ahead = 4L * w.RowStride;
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + ((long)r * cols);
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c0 = 0; c0 < cols; c0 += blockCols)
            {
                var factor = Vector512.Create(w.ScaleAt(o, c0) * Fp8Lanes.TwoPow120);
                int blockEnd = Math.Min(cols, c0 + blockCols);
                for (int c = c0; c < blockEnd; c += 16)
                {
                    if (r == 0 && (c & 63) == 0)
                    {
                        Sse.Prefetch0(p0 + c + ahead);
                        Sse.Prefetch0(p1 + c + ahead);
                        Sse.Prefetch0(p2 + c + ahead);
                        Sse.Prefetch0(p3 + c + ahead);
                    }

                    var u = Vector512.Load(xr + c);
                    a0 = Vector512.FusedMultiplyAdd(Fp8Lanes.Widen16(p0 + c) * factor, u, a0);
                    a1 = Vector512.FusedMultiplyAdd(Fp8Lanes.Widen16(p1 + c) * factor, u, a1);
                    a2 = Vector512.FusedMultiplyAdd(Fp8Lanes.Widen16(p2 + c) * factor, u, a2);
                    a3 = Vector512.FusedMultiplyAdd(Fp8Lanes.Widen16(p3 + c) * factor, u, a3);
                }
            }

            float* yr = y + ((long)r * outs) + o;
            yr[0] = Vector512.Sum(a0);
            yr[1] = Vector512.Sum(a1);
            yr[2] = Vector512.Sum(a2);
            yr[3] = Vector512.Sum(a3);
        }
    }

    private static float Fp8Row(in WeightMatrix w, int o, float* x, int cols)
    {
        byte* p = w.RowPointer(o);
        Vector512<float> a = default;
        for (int c0 = 0; c0 < cols; c0 += w.BlockCols)
        {
            var factor = Vector512.Create(w.ScaleAt(o, c0) * Fp8Lanes.TwoPow120);
            int blockEnd = Math.Min(cols, c0 + w.BlockCols);
            for (int c = c0; c < blockEnd; c += 16)
            {
                a = Vector512.FusedMultiplyAdd(Fp8Lanes.Widen16(p + c) * factor, Vector512.Load(x + c), a);
            }
        }

        return Vector512.Sum(a);
    }
}
