using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// y[r, :] = Σ_k x[r, k] · W[k, :] for float weights (F32, BF16, FP8): a worker owns a 64-column tile
/// of y and keeps it in registers (four 512-bit vectors per activation row, up to four rows) while it
/// streams the tile's slice of every weight row once. Used by absorbed attention (W_UKᵀ q, Pᵀ·latents).
/// </summary>
internal static unsafe class DenseTransposedKernel
{
    public const int TileColumns = 64;

    public static bool Handles(in WeightMatrix w) =>
        Avx512F.IsSupported && w.Cols % TileColumns == 0 && w.Type switch
        {
            DType.F32 or DType.BF16 => true,
            DType.F8E4M3 => w.BlockCols % TileColumns == 0,
            _ => false,
        };

    /// <summary>Column tiles [startTile, endTile) of y [rows, W.Cols] from x [rows, W.Rows].</summary>
    public static void Run(in WeightMatrix w, float* x, int rows, float* y, int startTile, int endTile)
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows4(in WeightMatrix w, float* x, float* y, int c0)
    {
        int k = w.Rows, cols = w.Cols;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        for (int i = 0; i < k; i++)
        {
            Load(w, i, c0, out var v0, out var v1, out var v2, out var v3, out float scale);
            var s = Vector512.Create(x[i] * scale);
            a00 = Vector512.FusedMultiplyAdd(v0, s, a00);
            a01 = Vector512.FusedMultiplyAdd(v1, s, a01);
            a02 = Vector512.FusedMultiplyAdd(v2, s, a02);
            a03 = Vector512.FusedMultiplyAdd(v3, s, a03);
            s = Vector512.Create(x[k + i] * scale);
            a10 = Vector512.FusedMultiplyAdd(v0, s, a10);
            a11 = Vector512.FusedMultiplyAdd(v1, s, a11);
            a12 = Vector512.FusedMultiplyAdd(v2, s, a12);
            a13 = Vector512.FusedMultiplyAdd(v3, s, a13);
            s = Vector512.Create(x[(2 * k) + i] * scale);
            a20 = Vector512.FusedMultiplyAdd(v0, s, a20);
            a21 = Vector512.FusedMultiplyAdd(v1, s, a21);
            a22 = Vector512.FusedMultiplyAdd(v2, s, a22);
            a23 = Vector512.FusedMultiplyAdd(v3, s, a23);
            s = Vector512.Create(x[(3 * k) + i] * scale);
            a30 = Vector512.FusedMultiplyAdd(v0, s, a30);
            a31 = Vector512.FusedMultiplyAdd(v1, s, a31);
            a32 = Vector512.FusedMultiplyAdd(v2, s, a32);
            a33 = Vector512.FusedMultiplyAdd(v3, s, a33);
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
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int i = 0; i < k; i++)
        {
            Load(w, i, c0, out var v0, out var v1, out var v2, out var v3, out float scale);
            var s = Vector512.Create(x[i] * scale);
            a0 = Vector512.FusedMultiplyAdd(v0, s, a0);
            a1 = Vector512.FusedMultiplyAdd(v1, s, a1);
            a2 = Vector512.FusedMultiplyAdd(v2, s, a2);
            a3 = Vector512.FusedMultiplyAdd(v3, s, a3);
        }

        Store(y + c0, a0, a1, a2, a3);
    }

    /// <summary>Row i, columns [c0, c0+64) as four float vectors; <paramref name="scale"/> is what x must be multiplied by.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load(in WeightMatrix w, int i, int c0, out Vector512<float> v0, out Vector512<float> v1, out Vector512<float> v2, out Vector512<float> v3, out float scale)
    {
        switch (w.Type)
        {
            case DType.F32:
            {
                var p = (float*)w.RowPointer(i) + c0;
                v0 = Vector512.Load(p);
                v1 = Vector512.Load(p + 16);
                v2 = Vector512.Load(p + 32);
                v3 = Vector512.Load(p + 48);
                scale = 1f;
                break;
            }

            case DType.BF16:
            {
                var p = (ushort*)w.RowPointer(i) + c0;
                var lo = Vector512.Load(p);
                var hi = Vector512.Load(p + 32);
                v0 = Vector512.ShiftLeft(Vector512.WidenLower(lo), 16).AsSingle();
                v1 = Vector512.ShiftLeft(Vector512.WidenUpper(lo), 16).AsSingle();
                v2 = Vector512.ShiftLeft(Vector512.WidenLower(hi), 16).AsSingle();
                v3 = Vector512.ShiftLeft(Vector512.WidenUpper(hi), 16).AsSingle();
                scale = 1f;
                break;
            }

            default:
            {
                var p = w.RowPointer(i) + c0;
                v0 = Fp8Lanes.Widen16(p);
                v1 = Fp8Lanes.Widen16(p + 16);
                v2 = Fp8Lanes.Widen16(p + 32);
                v3 = Fp8Lanes.Widen16(p + 48);
                scale = w.ScaleAt(i, c0) * Fp8Lanes.TwoPow120;
                break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3)
    {
        a0.Store(y);
        a1.Store(y + 16);
        a2.Store(y + 32);
        a3.Store(y + 48);
    }
}
