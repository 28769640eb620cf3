using Fathom.Core;
using Fathom.Core.Tests;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>A weight view and the value of each of its elements, row-major [W.Rows, W.Cols].</summary>
internal sealed record WeightCase(WeightMatrix W, float[] Values)
{
    public float this[int r, int c] => Values[(r * W.Cols) + c];
}

/// <summary>The weight layouts the kernels must handle: every stored dtype, FP8 block shapes, strided and sliced views.</summary>
internal static class WeightLayouts
{
    public static readonly string[] All =
    [
        "F32", "F32 strided", "BF16", "F16", "F8E4M3 128x128", "F8E4M3 4x8", "F8E4M3 row slice",
    ];

    /// <summary>Column counts around the vector widths (8 and 16 floats) and the 128-wide FP8 blocks.</summary>
    public static readonly int[] Widths = [1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 127, 128, 129, 257, 300];

    /// <summary>Activation rows (tokens).</summary>
    public static readonly int[] Tokens = [1, 2, 3, 5, 17];

    /// <summary>The other matrix dimension, cycled through against the widths.</summary>
    public static readonly int[] Heights = [1, 3, 17, 130, 257];

    public static WeightCase Create(string layout, int rows, int cols, int seed)
    {
        switch (layout)
        {
            case "F32":
                return From(TestMatrix.Random(DType.F32, rows, cols, seed));
            case "F32 strided":
                return From(TestMatrix.Strided(rows, cols, rowStride: cols + 5, offset: 3, seed));
            case "BF16":
                return From(TestMatrix.Random(DType.BF16, rows, cols, seed));
            case "F16":
                return From(TestMatrix.Random(DType.F16, rows, cols, seed));
            case "F8E4M3 128x128":
                return From(TestMatrix.Random(DType.F8E4M3, rows, cols, seed));
            case "F8E4M3 4x8":
                return From(TestMatrix.Random(DType.F8E4M3, rows, cols, seed, blockRows: 4, blockCols: 8));
            case "F8E4M3 row slice":
                // Rows [100, 100 + rows) of a taller tensor: the view starts inside a 128-row block.
                var full = TestMatrix.Random(DType.F8E4M3, rows + 150, cols, seed);
                return new WeightCase(full.Matrix.SliceRows(100, rows), full.Values.AsSpan(100 * cols, rows * cols).ToArray());
            default:
                throw new ArgumentOutOfRangeException(nameof(layout), layout, null);
        }
    }

    private static WeightCase From(TestMatrix m) => new(m.Matrix, m.Values);
}
