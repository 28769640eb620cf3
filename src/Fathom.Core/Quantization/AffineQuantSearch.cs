using System.Runtime.CompilerServices;
using System.Numerics;

namespace Fathom.Core;

/// <summary>
/// The scale/min search of GGML's k-quants (make_qkx2_quants): find scale s ≥ 0 and offset m ≥ 0 so that
/// x ≈ s·L − m with integer levels L in [0, nmax], minimising the weighted squared error. It starts from the
/// plain min/max fit and tries <c>nstep + 1</c> stretched level counts, solving the 2×2 weighted least-squares
/// for (s, −m) at each and keeping the best. Evaluation order and float32 rounding follow GGML exactly, since
/// a different last bit can change a level and so the stored bytes.
/// </summary>
/// <remarks>
/// Trials run a vector's worth at a time (<see cref="Vector{T}"/>: eight on AVX2), one per lane: each lane computes its trial's levels and adds its sums
/// element by element in index order with the scalar code's float operations, so every trial's sums,
/// solution and error round exactly as GGML's loop does. The first lane (in trial order) that is strictly
/// better than the best so far is taken, and since GGML's later trials start from that trial's offset, the
/// lanes after it run again from it.
/// </remarks>
internal static class AffineQuantSearch
{
    /// <returns>The scale; <paramref name="offset"/> receives m (GGML's "the_min", the negated minimum).</returns>
    [SkipLocalsInit]
    public static float Search(
        ReadOnlySpan<float> x,
        ReadOnlySpan<float> weights,
        int nmax,
        Span<byte> levels,
        float rmin,
        float rdelta,
        int nstep,
        out float offset)
    {
        int n = x.Length;
        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min)
            {
                min = x[i];
            }

            if (x[i] > max)
            {
                max = x[i];
            }

            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }

        // The offset only ever lowers the levels' zero, so a block of positive values keeps zero as its floor.
        if (min > 0)
        {
            min = 0;
        }

        if (max == min)
        {
            levels[..n].Clear();
            offset = -min;
            return 0f;
        }

        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        SetLevels(x, min, iscale, nmax, levels);
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            float diff = (scale * levels[i]) + min - x[i];
            bestError += weights[i] * (diff * diff);
        }

        if (nstep < 1)
        {
            offset = -min;
            return scale;
        }

        // GGML's loop carries the best fit's min into the next trials (their levels and iscale use it), so
        // trials run a vector at a time from the current min until one improves on the best; the trials after
        // an improvement run again with its min.
        int trials = nstep + 1, lanes = Vector<float>.Count;
        Span<float> iscales = stackalloc float[lanes];
        Span<float> dets = stackalloc float[lanes];
        Span<float> trialScales = stackalloc float[lanes];
        Span<float> trialMins = stackalloc float[lanes];
        Span<float> errors = stackalloc float[lanes];
        var laneIndex = Vector.ConvertToSingle(Vector<int>.Indices);
        int first = 0;
        while (first < trials)
        {
            // (rmin + rdelta · step + nmax) / (max − min) for steps first, first + 1, ...: steps are small
            // integers, exact as floats, so each lane rounds as the scalar expression does.
            var steps = new Vector<float>(first) + laneIndex;
            ((new Vector<float>(rmin) + (new Vector<float>(rdelta) * steps) + new Vector<float>(nmax)) / new Vector<float>(max - min)).CopyTo(iscales);

            Trials(x, weights, min, sumW, sumX, nmax, iscales, dets, trialScales, trialMins, errors);
            int count = Math.Min(lanes, trials - first), improved = -1;
            for (int k = 0; k < count; k++)
            {
                if (dets[k] > 0 && errors[k] < bestError)
                {
                    improved = k;
                    break;
                }
            }

            if (improved < 0)
            {
                first += count;
                continue;
            }

            SetLevels(x, min, iscales[improved], nmax, levels);
            bestError = errors[improved];
            scale = trialScales[improved];
            min = trialMins[improved];
            first += improved + 1;
        }

        offset = -min;
        return scale;
    }

    /// <summary>levels[i] = clamp(nearest(iscale · (x[i] − min)), 0, nmax).</summary>
    private static void SetLevels(ReadOnlySpan<float> x, float min, float iscale, int nmax, Span<byte> levels)
    {
        int n = x.Length, i = 0, count = Vector<float>.Count;
        var vMin = new Vector<float>(min);
        var vIscale = new Vector<float>(iscale);
        var top = new Vector<int>(nmax);
        Span<int> lanes = stackalloc int[count];
        for (; i + count <= n; i += count)
        {
            Vector.ConvertToInt32(Levels(new Vector<float>(x.Slice(i, count)) - vMin, vIscale, top)).CopyTo(lanes);
            for (int k = 0; k < count; k++)
            {
                levels[i + k] = (byte)lanes[k];
            }
        }

        for (; i < n; i++)
        {
            levels[i] = (byte)Math.Max(0, Math.Min(nmax, GgmlRounding.NearestInt(iscale * (x[i] - min))));
        }
    }

    /// <summary>
    /// A vector's worth of trials, one per lane (their inverse scales in <paramref name="iscales"/>): the 2×2 weighted
    /// least-squares solution for each trial's levels and its weighted squared error.
    /// </summary>
    [SkipLocalsInit]
    private static void Trials(
        ReadOnlySpan<float> x,
        ReadOnlySpan<float> weights,
        float min,
        float sumW,
        float sumX,
        int nmax,
        ReadOnlySpan<float> iscales,
        Span<float> dets,
        Span<float> scales,
        Span<float> mins,
        Span<float> errors)
    {
        int n = x.Length;
        var vIscale = new Vector<float>(iscales);
        var top = new Vector<int>(nmax);
        // Each element's levels in every lane, kept for the error pass.
        Span<Vector<float>> levels = stackalloc Vector<float>[n];
        Vector<float> sumL = default, sumL2 = default, sumXL = default;
        for (int i = 0; i < n; i++)
        {
            var l = levels[i] = Levels(new Vector<float>(x[i] - min), vIscale, top);
            var wl = new Vector<float>(weights[i]) * l;
            sumL += wl;
            sumL2 += wl * l;
            sumXL += wl * new Vector<float>(x[i]);
        }

        var vSumW = new Vector<float>(sumW);
        var vSumX = new Vector<float>(sumX);
        var det = (vSumW * sumL2) - (sumL * sumL);
        var scale = ((vSumW * sumXL) - (vSumX * sumL)) / det;
        var offset = ((sumL2 * vSumX) - (sumL * sumXL)) / det;
        var positive = Vector.GreaterThan(offset, Vector<float>.Zero);
        scale = Vector.ConditionalSelect(positive, sumXL / sumL2, scale);
        offset = Vector.ConditionalSelect(positive, Vector<float>.Zero, offset);

        Vector<float> error = default;
        for (int i = 0; i < n; i++)
        {
            var diff = ((scale * levels[i]) + offset) - new Vector<float>(x[i]);
            error += new Vector<float>(weights[i]) * (diff * diff);
        }

        det.CopyTo(dets);
        scale.CopyTo(scales);
        offset.CopyTo(mins);
        error.CopyTo(errors);
    }

    /// <summary><see cref="Level"/> in every lane, as floats: GGML's nearest_int of iscale · (x − min), clamped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Levels(Vector<float> centred, Vector<float> iscale, Vector<int> top)
    {
        var shifted = Vector.AsVectorInt32((iscale * centred) + new Vector<float>(12582912f));
        var l = (shifted & new Vector<int>(0x007FFFFF)) - new Vector<int>(0x00400000);
        return Vector.ConvertToSingle(Vector.Min(Vector.Max(l, Vector<int>.Zero), top));
    }
}
