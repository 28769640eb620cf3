namespace Fathom.Core;

/// <summary>
/// The scale/min search of GGML's k-quants (make_qkx2_quants): find scale s ≥ 0 and offset m ≥ 0 so that
/// x ≈ s·L − m with integer levels L in [0, nmax], minimising the weighted squared error. It starts from the
/// plain min/max fit and tries <c>nstep + 1</c> stretched level counts, solving the 2×2 weighted least-squares
/// for (s, −m) at each and keeping the best. Evaluation order and float32 rounding follow GGML exactly, since
/// a different last bit can change a level and so the stored bytes.
/// </summary>
internal static class AffineQuantSearch
{
    /// <returns>The scale; <paramref name="offset"/> receives m (GGML's "the_min", the negated minimum).</returns>
    public static float Search(
        ReadOnlySpan<float> x,
        ReadOnlySpan<float> weights,
        int nmax,
        Span<byte> levels,
        Span<byte> trial,
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
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = GgmlRounding.NearestInt(iscale * (x[i] - min));
            levels[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = (scale * levels[i]) + min - x[i];
            bestError += weights[i] * (diff * diff);
        }

        if (nstep < 1)
        {
            offset = -min;
            return scale;
        }

        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + (rdelta * step) + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = GgmlRounding.NearestInt(iscale * (x[i] - min));
                l = Math.Max(0, Math.Min(nmax, l));
                trial[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }

            float det = (sumW * sumL2) - (sumL * sumL);
            if (det > 0)
            {
                float thisScale = ((sumW * sumXL) - (sumX * sumL)) / det;
                float thisMin = ((sumL2 * sumX) - (sumL * sumXL)) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }

                float error = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = (thisScale * trial[i]) + thisMin - x[i];
                    error += weights[i] * (diff * diff);
                }

                if (error < bestError)
                {
                    trial[..n].CopyTo(levels);
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }

        offset = -min;
        return scale;
    }
}
