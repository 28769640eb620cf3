namespace Fathom.Core;

/// <summary>
/// GPTQ (Frantar et al., 2022): quantizes a weight column by column and spreads each column's rounding error
/// over the columns not yet quantized, weighted by the inverse Hessian of the layer's inputs
/// (H = Σ xᵀx over the calibration tokens), so the layer's outputs on those inputs change as little as
/// possible. The inverse comes from a Cholesky factorisation of the dampened H; columns are processed in
/// blocks with the error of a whole block applied to the later columns at once (lazy batch updates).
/// Group scales are fitted when the first column of their group is reached, from the updated weights.
/// </summary>
public static class Gptq
{
    /// <summary>Columns per lazy update block.</summary>
    public const int BlockSize = 128;

    /// <param name="weight">[rows, cols] float32; not modified.</param>
    /// <param name="hessian">[cols, cols] Σ xᵀx (any positive multiple); not modified.</param>
    /// <param name="dampening">Fraction of the mean diagonal added to the diagonal (GPTQ's percdamp, 0.01).</param>
    public static QuantizedLinear Quantize(IntegerGrid grid, ReadOnlySpan<float> weight, int rows, int cols, ReadOnlySpan<double> hessian, double dampening = 0.01)
    {
        if (hessian.Length != (long)cols * cols)
        {
            throw new ArgumentException($"the Hessian holds {hessian.Length} values, [{cols}, {cols}] needed", nameof(hessian));
        }

        var result = new QuantizedLinear(grid, rows, cols);
        int group = result.Group, groups = cols / group;
        var w = weight.ToArray();
        var h = hessian.ToArray();

        // Inputs that never fire carry no information: their weights are dropped (quantized from zero).
        double meanDiagonal = 0;
        for (int i = 0; i < cols; i++)
        {
            if (h[((long)i * cols) + i] <= 0)
            {
                h[((long)i * cols) + i] = 1;
                for (int r = 0; r < rows; r++)
                {
                    w[((long)r * cols) + i] = 0;
                }
            }

            meanDiagonal += h[((long)i * cols) + i];
        }

        double damp = dampening * meanDiagonal / cols;
        for (int i = 0; i < cols; i++)
        {
            h[((long)i * cols) + i] += damp;
        }

        var u = InverseUpperCholesky(h, cols);

        // Per-channel grids take their scale from the whole row before any update (as GPTQ does without groups).
        if (group == cols)
        {
            var row = new float[cols];
            for (int r = 0; r < rows; r++)
            {
                w.AsSpan(r * cols, cols).CopyTo(row);
                (result.Scales[r], result.Zeros[r]) = grid.Fit(row);
            }
        }

        var error = new double[rows * BlockSize];
        var groupValues = new float[group];
        for (int b0 = 0; b0 < cols; b0 += BlockSize)
        {
            int b1 = Math.Min(cols, b0 + BlockSize), width = b1 - b0;
            for (int i = b0; i < b1; i++)
            {
                if (group != cols && i % group == 0)
                {
                    // Fit the group's grid on the weights as updated so far.
                    for (int r = 0; r < rows; r++)
                    {
                        w.AsSpan((r * cols) + i, group).CopyTo(groupValues);
                        int g = (r * groups) + (i / group);
                        (result.Scales[g], result.Zeros[g]) = grid.Fit(groupValues);
                    }
                }

                double d = u[((long)i * cols) + i];
                for (int r = 0; r < rows; r++)
                {
                    int g = (r * groups) + (i / group);
                    float s = result.Scales[g], z = result.Zeros[g];
                    float value = w[((long)r * cols) + i];
                    int code = grid.Encode(value, s, z);
                    result.Codes[((long)r * cols) + i] = code;
                    double e = (value - IntegerGrid.Decode(code, s, z)) / d;
                    error[(r * BlockSize) + (i - b0)] = e;

                    // Within the block, update the remaining columns at once.
                    var wr = w.AsSpan(r * cols, cols);
                    for (int j = i + 1; j < b1; j++)
                    {
                        wr[j] -= (float)(e * u[((long)i * cols) + j]);
                    }
                }
            }

            // The block's errors reach the later columns in one update.
            if (b1 < cols)
            {
                for (int r = 0; r < rows; r++)
                {
                    var wr = w.AsSpan(r * cols, cols);
                    for (int i = 0; i < width; i++)
                    {
                        double e = error[(r * BlockSize) + i];
                        if (e == 0)
                        {
                            continue;
                        }

                        long urow = (long)(b0 + i) * cols;
                        for (int j = b1; j < cols; j++)
                        {
                            wr[j] -= (float)(e * u[urow + j]);
                        }
                    }
                }
            }
        }

        return result;
    }

    /// <summary>
    /// The upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ U) for a symmetric positive definite H [n, n]: H = L Lᵀ,
    /// H⁻¹ from L, then H⁻¹'s own factor. Adds more dampening if H is not numerically positive definite.
    /// </summary>
    public static double[] InverseUpperCholesky(double[] h, int n)
    {
        var l = Cholesky(h, n) ?? throw new ArgumentException("the Hessian is not positive definite even after dampening");

        // H⁻¹ = L⁻ᵀ L⁻¹: invert the lower triangle, then multiply.
        var li = new double[(long)n * n];
        for (int i = 0; i < n; i++)
        {
            li[((long)i * n) + i] = 1 / l[((long)i * n) + i];
            for (int j = 0; j < i; j++)
            {
                double sum = 0;
                for (int k = j; k < i; k++)
                {
                    sum += l[((long)i * n) + k] * li[((long)k * n) + j];
                }

                li[((long)i * n) + j] = -sum / l[((long)i * n) + i];
            }
        }

        var inverse = new double[(long)n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = 0;
                for (int k = i; k < n; k++)
                {
                    sum += li[((long)k * n) + i] * li[((long)k * n) + j];
                }

                inverse[((long)i * n) + j] = sum;
                inverse[((long)j * n) + i] = sum;
            }
        }

        // Upper factor U with H⁻¹ = Uᵀ U is the transpose of the lower Cholesky factor of H⁻¹.
        var lower = Cholesky(inverse, n) ?? throw new ArgumentException("the inverse Hessian is not positive definite");
        var upper = new double[(long)n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                upper[((long)j * n) + i] = lower[((long)i * n) + j];
            }
        }

        return upper;
    }

    /// <summary>Lower Cholesky factor of a symmetric matrix, or null when it is not positive definite.</summary>
    public static double[]? Cholesky(double[] a, int n)
    {
        var l = new double[(long)n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = a[((long)i * n) + j];
                for (int k = 0; k < j; k++)
                {
                    sum -= l[((long)i * n) + k] * l[((long)j * n) + k];
                }

                if (i == j)
                {
                    if (!(sum > 0))
                    {
                        return null;
                    }

                    l[((long)i * n) + i] = Math.Sqrt(sum);
                }
                else
                {
                    l[((long)i * n) + j] = sum / l[((long)j * n) + j];
                }
            }
        }

        return l;
    }
}
