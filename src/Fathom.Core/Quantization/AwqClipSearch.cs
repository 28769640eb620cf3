using System.Numerics.Tensors;

namespace Fathom.Core;

/// <summary>
/// AWQ's weight clipping: for every (row, group) of a weight, the range the grid covers is shrunk to
/// ratio · max|w| for the ratio (1, 0.95, …, 0.5) that minimises the group's output error on the
/// calibration inputs, δ H_gg δᵀ with δ = Q(clip(w)) − w and H_gg the group's block of Σ xᵀx. Rounding
/// fewer levels onto outliers buys finer steps for the rest; ratio 1 is plain rounding, so the error
/// never grows. The weights are clipped in place, so that rounding afterwards reproduces the choice.
/// </summary>
public static class AwqClipSearch
{
    public const int Steps = 10;

    /// <param name="weight">[rows, cols], clipped in place.</param>
    /// <param name="hessian">[cols, cols] Σ xᵀx of the weight's inputs.</param>
    /// <param name="inputScale">Optional per-column factor s the weight was multiplied by (inputs divided by it): H is used as H / (s sᵀ).</param>
    public static void Apply(IntegerGrid grid, float[] weight, int rows, int cols, float[] hessian, float[]? inputScale = null)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(hessian);
        int group = grid.GroupFor(cols), groups = cols / group;

        // The diagonal blocks of H (rescaled), one per group.
        var blocks = new float[groups][];
        for (int g = 0; g < groups; g++)
        {
            var block = blocks[g] = new float[group * group];
            for (int i = 0; i < group; i++)
            {
                for (int j = 0; j < group; j++)
                {
                    int ci = (g * group) + i, cj = (g * group) + j;
                    float h = hessian[((long)ci * cols) + cj];
                    block[(i * group) + j] = inputScale is null ? h : h / (inputScale[ci] * inputScale[cj]);
                }
            }
        }

        Parallel.For(0, rows, () => (new float[group], new float[group], new float[group]), (r, _, buffers) =>
        {
            var (clipped, delta, best) = buffers;
            for (int g = 0; g < groups; g++)
            {
                var w = weight.AsSpan((r * cols) + (g * group), group);
                float max = MathF.Abs(TensorPrimitives.MaxMagnitude(w));
                if (max == 0)
                {
                    continue;
                }

                double bestError = double.PositiveInfinity;
                for (int step = 0; step <= Steps; step++)
                {
                    float limit = max * (1 - (step * 0.5f / Steps));
                    for (int i = 0; i < group; i++)
                    {
                        clipped[i] = Math.Clamp(w[i], -limit, limit);
                    }

                    var (scale, zero) = grid.Fit(clipped);
                    for (int i = 0; i < group; i++)
                    {
                        delta[i] = IntegerGrid.Decode(grid.Encode(clipped[i], scale, zero), scale, zero) - w[i];
                    }

                    double error = 0;
                    var block = blocks[g];
                    for (int i = 0; i < group; i++)
                    {
                        if (delta[i] != 0)
                        {
                            error += delta[i] * (double)TensorPrimitives.Dot(block.AsSpan(i * group, group), delta);
                        }
                    }

                    if (error < bestError)
                    {
                        bestError = error;
                        clipped.CopyTo(best, 0);
                    }
                }

                best.AsSpan().CopyTo(w);
            }

            return buffers;
        }, _ => { });
    }
}
