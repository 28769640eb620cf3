namespace Fathom.Model;

/// <summary>
/// Rotary embedding frequencies for the qk_rope_head_dim dimensions, with YaRN when configured, computed
/// the way Hugging Face transformers does (float32 frequencies and angles, cos/sin scaled by the YaRN
/// attention factor, which is 1 for every released DeepSeek config).
/// </summary>
public sealed class YarnRope
{
    private readonly float[] _invFreq;

    public YarnRope(ModelConfig config)
    {
        int dim = config.QkRopeHeadDim;
        int half = dim / 2;
        float theta = (float)config.RopeTheta;
        _invFreq = new float[half];
        var posFreqs = new float[half];
        for (int j = 0; j < half; j++)
        {
            posFreqs[j] = MathF.Pow(theta, (2f * j) / dim);
        }

        if (config.RopeScaling is not { } yarn)
        {
            for (int j = 0; j < half; j++)
            {
                _invFreq[j] = 1f / posFreqs[j];
            }

            AttentionFactor = 1f;
            return;
        }

        double factor = yarn.Factor;
        double low = CorrectionDim(yarn.BetaFast, dim, config.RopeTheta, yarn.OriginalMaxPositionEmbeddings);
        double high = CorrectionDim(yarn.BetaSlow, dim, config.RopeTheta, yarn.OriginalMaxPositionEmbeddings);
        if (yarn.Truncate)
        {
            low = Math.Floor(low);
            high = Math.Ceiling(high);
        }

        low = Math.Max(low, 0);
        high = Math.Min(high, dim - 1);
        if (low == high)
        {
            high += 0.001;
        }

        for (int j = 0; j < half; j++)
        {
            float extrapolation = 1f / posFreqs[j];
            float interpolation = 1f / ((float)factor * posFreqs[j]);
            float ramp = Math.Clamp((float)((j - low) / (high - low)), 0f, 1f);
            float extrapolationFactor = 1f - ramp;
            _invFreq[j] = (interpolation * (1f - extrapolationFactor)) + (extrapolation * extrapolationFactor);
        }

        AttentionFactor = (float)(yarn.AttentionFactor
            ?? (yarn.Mscale != 0 && yarn.MscaleAllDim != 0
                ? YarnMath.GetMscale(factor, yarn.Mscale) / YarnMath.GetMscale(factor, yarn.MscaleAllDim)
                : YarnMath.GetMscale(factor)));
    }

    /// <summary>Amplitude applied to cos and sin.</summary>
    public float AttentionFactor { get; }

    public ReadOnlySpan<float> InverseFrequencies => _invFreq;

    public int Pairs => _invFreq.Length;

    /// <summary>cos and sin of every pair's angle at a position (each span holds qk_rope_head_dim / 2 values).</summary>
    public void Fill(int position, Span<float> cos, Span<float> sin)
    {
        for (int j = 0; j < _invFreq.Length; j++)
        {
            float angle = _invFreq[j] * position;
            cos[j] = MathF.Cos(angle) * AttentionFactor;
            sin[j] = MathF.Sin(angle) * AttentionFactor;
        }
    }

    private static double CorrectionDim(double rotations, int dim, double theta, int maxPositions) =>
        dim * Math.Log(maxPositions / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
}
