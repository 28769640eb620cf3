namespace Fathom.Backends.Cuda;

/// <summary>
/// How a tensor-core product (Kernels/mma.cu: 128 weight rows per block) is split over its columns when
/// its blocks alone cannot fill the GPU: enough slices for two blocks per multiprocessor, each slice whole
/// steps of the kernel (128 columns) and whole scale blocks, the partial sums within the workspace.
/// </summary>
internal static class SplitK
{
    /// <summary>Columns a step of the FP8 tensor-core kernel covers (two chunks of 64 bytes per lane group).</summary>
    private const int StepColumns = 128;

    /// <summary>
    /// The number of slices (1: no split) and the columns of each (the last may be shorter) for a product of
    /// <paramref name="rows"/> × <paramref name="cols"/> over <paramref name="tokens"/> rows of activations.
    /// </summary>
    public static int Plan(int rows, int cols, int blockCols, int tokens, int multiprocessors, long workspaceFloats, out int chunk)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockCols, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        int blocks = (rows + 127) / 128;
        int unit = StepColumns / Gcd(StepColumns, blockCols) * blockCols;
        long fit = workspaceFloats / ((long)tokens * rows);
        int most = (int)Math.Min(cols / unit, fit);
        int splits = Math.Min(2 * multiprocessors / blocks, most);
        if (splits < 2)
        {
            chunk = cols;
            return 1;
        }

        chunk = (cols + (splits * unit) - 1) / (splits * unit) * unit;
        return (cols + chunk - 1) / chunk;
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
