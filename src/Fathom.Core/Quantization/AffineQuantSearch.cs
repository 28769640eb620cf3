using System.Numerics;
using System.Runtime.CompilerServices;

namespace Fathom.Core;

/// <summary>
/// The scale/min search of GGML's k-quants (make_qkx2_quants): find scale s ≥ 0 and offset m ≥ 0 so that
/// x ≈ s·L − m with integer levels L in [0, nmax], minimising the weighted squared error. It starts from the
/// plain min/max fit and tries <c>nstep + 1</c> stretched level counts, solving the 2×2 weighted least-squares
/// for (s, −m) at each and keeping the best. Evaluation order and float32 rounding follow GGML exactly, since
/// a different last bit can change a level and so the stored bytes.
/// </summary>
/// <remarks>
/// A block holds several independent groups (Q4_K: eight sub-blocks of 32), so the search runs one group per
/// vector lane (<see cref="Vector{T}"/>: eight on AVX2): each lane follows GGML's loop for its group, trial
/// after trial, with the scalar code's float operations in the scalar code's order (sums element by element
/// in index order), and its branches become per-lane selections. Every group therefore gets exactly what
/// GGML's loop gives it.
/// </remarks>
internal static class AffineQuantSearch
{
    /// <summary>Most values per group.</summary>
    public const int MaxGroupSize = 256;

    /// <summary>
    /// Searches the groups x[g·n .. (g+1)·n) (with their weights) independently: their levels go to the same
    /// places of <paramref name="levels"/>, scale g to <paramref name="scales"/>[g] and offset m (GGML's
    /// "the_min", the negated minimum) to <paramref name="offsets"/>[g].
    /// </summary>
    public static void Search(
        ReadOnlySpan<float> x,
        ReadOnlySpan<float> weights,
        int n,
        int nmax,
        Span<byte> levels,
        float rmin,
        float rdelta,
        int nstep,
        Span<float> scales,
        Span<float> offsets)
    {
        if (n < 1 || n > MaxGroupSize || x.Length % n != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(n), $"groups of 1-{MaxGroupSize} values that divide the {x.Length} values, got {n}");
        }

        int groups = x.Length / n;
        for (int g = 0; g < groups; g += Vector<float>.Count)
        {
            Lanes(x, weights, n, g, Math.Min(Vector<float>.Count, groups - g), nmax, levels, rmin, rdelta, nstep, scales, offsets);
        }
    }

    /// <summary>Groups first .. first + count − 1, one per lane (lanes past them repeat the first group and are dropped).</summary>
    [SkipLocalsInit]
    private static void Lanes(
        ReadOnlySpan<float> x,
        ReadOnlySpan<float> weights,
        int n,
        int first,
        int count,
        int nmax,
        Span<byte> levels,
        float rmin,
        float rdelta,
        int nstep,
        Span<float> scales,
        Span<float> offsets)
    {
        int lanes = Vector<float>.Count;
        Span<Vector<float>> xs = stackalloc Vector<float>[n];
        Span<Vector<float>> ws = stackalloc Vector<float>[n];
        Span<Vector<float>> trial = stackalloc Vector<float>[n];
        Span<Vector<float>> best = stackalloc Vector<float>[n];
        Span<float> column = stackalloc float[lanes];
        for (int i = 0; i < n; i++)
        {
            for (int k = 0; k < lanes; k++)
            {
                column[k] = x[((first + (k < count ? k : 0)) * n) + i];
            }

            xs[i] = new Vector<float>(column);
            for (int k = 0; k < lanes; k++)
            {
                column[k] = weights[((first + (k < count ? k : 0)) * n) + i];
            }

            ws[i] = new Vector<float>(column);
        }

        var min = xs[0];
        var max = xs[0];
        var sumW = ws[0];
        var sumX = sumW * xs[0];
        for (int i = 1; i < n; i++)
        {
            min = Vector.ConditionalSelect(Vector.LessThan(xs[i], min), xs[i], min);
            max = Vector.ConditionalSelect(Vector.GreaterThan(xs[i], max), xs[i], max);
            sumW += ws[i];
            sumX += ws[i] * xs[i];
        }

        // The offset only ever lowers the levels' zero, so a group of positive values keeps zero as its floor.
        min = Vector.ConditionalSelect(Vector.GreaterThan(min, Vector<float>.Zero), Vector<float>.Zero, min);
        var flat = Vector.Equals(max, min);
        var flatMin = min;
        var top = new Vector<int>(nmax);

        var iscale = new Vector<float>(nmax) / (max - min);
        var scale = Vector<float>.One / iscale;
        var bestError = Vector<float>.Zero;
        for (int i = 0; i < n; i++)
        {
            var l = best[i] = Levels(xs[i] - min, iscale, top);
            var diff = ((scale * l) + min) - xs[i];
            bestError += ws[i] * (diff * diff);
        }

        for (int step = 0; nstep >= 1 && step <= nstep; step++)
        {
            iscale = new Vector<float>(rmin + (rdelta * step) + nmax) / (max - min);
            Vector<float> sumL = default, sumL2 = default, sumXL = default;
            for (int i = 0; i < n; i++)
            {
                var l = trial[i] = Levels(xs[i] - min, iscale, top);
                var wl = ws[i] * l;
                sumL += wl;
                sumL2 += wl * l;
                sumXL += wl * xs[i];
            }

            var det = (sumW * sumL2) - (sumL * sumL);
            var thisScale = ((sumW * sumXL) - (sumX * sumL)) / det;
            var thisMin = ((sumL2 * sumX) - (sumL * sumXL)) / det;
            var positive = Vector.GreaterThan(thisMin, Vector<float>.Zero);
            thisScale = Vector.ConditionalSelect(positive, sumXL / sumL2, thisScale);
            thisMin = Vector.ConditionalSelect(positive, Vector<float>.Zero, thisMin);

            var error = Vector<float>.Zero;
            for (int i = 0; i < n; i++)
            {
                var diff = ((thisScale * trial[i]) + thisMin) - xs[i];
                error += ws[i] * (diff * diff);
            }

            var take = Vector.GreaterThan(det, Vector<float>.Zero) & Vector.LessThan(error, bestError);
            if (take == Vector<int>.Zero)
            {
                continue;
            }

            for (int i = 0; i < n; i++)
            {
                best[i] = Vector.ConditionalSelect(take, trial[i], best[i]);
            }

            bestError = Vector.ConditionalSelect(take, error, bestError);
            scale = Vector.ConditionalSelect(take, thisScale, scale);
            min = Vector.ConditionalSelect(take, thisMin, min);
        }

        // A flat group: all levels zero, no scale, its own floor as the offset.
        scale = Vector.ConditionalSelect(flat, Vector<float>.Zero, scale);
        var offset = -Vector.ConditionalSelect(flat, flatMin, min);
        for (int k = 0; k < count; k++)
        {
            scales[first + k] = scale[k];
            offsets[first + k] = offset[k];
        }

        for (int i = 0; i < n; i++)
        {
            var l = Vector.ConvertToInt32(Vector.ConditionalSelect(flat, Vector<float>.Zero, best[i]));
            for (int k = 0; k < count; k++)
            {
                levels[((first + k) * n) + i] = (byte)l[k];
            }
        }
    }

    /// <summary>GGML's nearest_int of iscale · (x − min) in every lane, clamped to [0, nmax], as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Levels(Vector<float> centred, Vector<float> iscale, Vector<int> top)
    {
        var l = GgmlRounding.NearestInt(iscale * centred);
        return Vector.ConvertToSingle(Vector.Min(Vector.Max(l, Vector<int>.Zero), top));
    }
}
