using System.Numerics.Tensors;

namespace Fathom.Core;

/// <summary>One linear layer in an AWQ scaling group: its float32 weight [Rows, Cols] and the Σ xᵀx of its inputs.</summary>
public sealed record AwqMember(float[] Weight, int Rows, int Cols, float[] Hessian);

/// <summary>
/// AWQ (Lin et al., 2023), activation-aware scaling: input channels that carry large activations matter
/// more, so their weights are scaled up by s before rounding (and the activations down by s, folded into
/// the previous operation, which is exact). The scale is s = a^α with a the mean |x| per input channel,
/// normalised to a geometric mean of one; α is searched on a grid, choosing the one that minimises the
/// output error Σ over the group's layers of ‖X (Ŵ − W)ᵀ‖², computed exactly from the inputs'
/// Σ xᵀx as Σ_r δ_r H δ_rᵀ. α = 0 is plain rounding, so the result is never worse on the calibration data.
/// </summary>
public static class AwqScaleSearch
{
    /// <returns>The per-channel scales to multiply the group's weight columns by, and the chosen α.</returns>
    public static (float[] Scales, float Alpha, double Loss, double RoundToNearestLoss) Search(
        IntegerGrid grid, IReadOnlyList<AwqMember> members, ReadOnlySpan<float> meanAbsActivation, int gridPoints = 20)
    {
        ArgumentNullException.ThrowIfNull(members);
        int cols = meanAbsActivation.Length;
        foreach (var m in members)
        {
            if (m.Cols != cols || m.Weight.Length != (long)m.Rows * m.Cols || m.Hessian.Length != (long)cols * cols)
            {
                throw new ArgumentException($"an AWQ group member [{m.Rows}, {m.Cols}] does not match the {cols} input channels");
            }
        }

        var magnitude = meanAbsActivation.ToArray();
        float[] best = Candidate(magnitude, 0);
        double bestLoss = double.PositiveInfinity, plain = double.NaN;
        float bestAlpha = 0;
        for (int k = 0; k < gridPoints; k++)
        {
            float alpha = (float)k / gridPoints;
            var s = Candidate(magnitude, alpha);
            double loss = Loss(grid, members, s);
            if (k == 0)
            {
                plain = loss;
            }

            if (loss < bestLoss)
            {
                bestLoss = loss;
                best = s;
                bestAlpha = alpha;
            }
        }

        return (best, bestAlpha, bestLoss, plain);
    }

    /// <summary>s = a^α normalised so that max(s)·min(s) = 1 (AWQ's normalisation).</summary>
    public static float[] Candidate(ReadOnlySpan<float> magnitude, float alpha)
    {
        var s = new float[magnitude.Length];
        float max = float.MinValue, min = float.MaxValue;
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = MathF.Pow(MathF.Max(magnitude[i], 1e-4f), alpha);
            max = MathF.Max(max, s[i]);
            min = MathF.Min(min, s[i]);
        }

        float norm = MathF.Sqrt(max * min);
        for (int i = 0; i < s.Length; i++)
        {
            s[i] /= norm;
        }

        return s;
    }

    /// <summary>Σ over members of Σ_r δ_r H δ_rᵀ with δ = W − Q(W·diag(s))·diag(1/s).</summary>
    public static double Loss(IntegerGrid grid, IReadOnlyList<AwqMember> members, float[] s)
    {
        double total = 0;
        var gate = new Lock();
        Parallel.ForEach(members, m =>
        {
            int cols = m.Cols;
            var scaled = new float[cols];
            var deq = new float[cols];
            var delta = new float[cols];
            var codes = new int[cols];
            int groups = cols / grid.GroupFor(cols);
            var scales = new float[groups];
            var zeros = new float[groups];
            double loss = 0;
            for (int r = 0; r < m.Rows; r++)
            {
                var w = m.Weight.AsSpan(r * cols, cols);
                TensorPrimitives.Multiply(w, s, scaled);
                grid.QuantizeRow(scaled, codes, scales, zeros, deq);
                TensorPrimitives.Divide(deq, s, deq);
                TensorPrimitives.Subtract(w, deq, delta);
                for (int i = 0; i < cols; i++)
                {
                    if (delta[i] != 0)
                    {
                        loss += delta[i] * (double)TensorPrimitives.Dot(m.Hessian.AsSpan(i * cols, cols), delta);
                    }
                }
            }

            lock (gate)
            {
                total += loss;
            }
        });

        return total;
    }
}
