namespace Fathom.Core;

/// <summary>
/// A linear weight [Rows, Cols] quantized on an <see cref="IntegerGrid"/>: one code per weight (int8 codes
/// −127…127 or 4-bit codes 0–15), and a scale and zero point per (row, group). The in-memory form between
/// the quantizer and the checkpoint writer, and a matrix view for running the quantized model.
/// </summary>
public sealed class QuantizedLinear
{
    public QuantizedLinear(IntegerGrid grid, int rows, int cols)
    {
        Grid = grid;
        Rows = rows;
        Cols = cols;
        Group = grid.GroupFor(cols);
        Codes = new int[(long)rows * cols];
        Scales = new float[rows * (cols / Group)];
        Zeros = new float[Scales.Length];
    }

    public IntegerGrid Grid { get; }

    public int Rows { get; }

    public int Cols { get; }

    public int Group { get; }

    public int[] Codes { get; }

    /// <summary>[Rows, Cols / Group].</summary>
    public float[] Scales { get; }

    /// <summary>[Rows, Cols / Group]; zero for the symmetric scheme.</summary>
    public float[] Zeros { get; }

    /// <summary>The dequantized value of (row, col).</summary>
    public float Value(int row, int col)
    {
        int g = (row * (Cols / Group)) + (col / Group);
        return IntegerGrid.Decode(Codes[((long)row * Cols) + col], Scales[g], Zeros[g]);
    }

    /// <summary>A matrix view (I8 or U4) over newly allocated pinned storage.</summary>
    public unsafe WeightMatrix ToMatrix()
    {
        if (Grid.Scheme == IntegerScheme.Int8Channel)
        {
            var bytes = Int4Groups.AllocatePinned((long)Rows * Cols);
            for (long i = 0; i < Codes.Length; i++)
            {
                bytes[i] = (byte)(sbyte)Codes[i];
            }

            fixed (byte* p = bytes)
            {
                return new WeightMatrix(DType.I8, p, Rows, Cols, Cols, bytes, (float[])Scales.Clone(), 1, Cols);
            }
        }

        var nibbles = Int4Groups.AllocatePinned((long)Rows * Cols / 2);
        for (long i = 0; i < Codes.Length / 2; i++)
        {
            nibbles[i] = (byte)((Codes[2 * i] & 0xF) | ((Codes[(2 * i) + 1] & 0xF) << 4));
        }

        return Int4Groups.Create(nibbles, (float[])Scales.Clone(), (float[])Zeros.Clone(), Rows, Cols, Group);
    }

    /// <summary>Round-to-nearest of a float32 weight [rows, cols].</summary>
    public static QuantizedLinear RoundToNearest(IntegerGrid grid, ReadOnlySpan<float> weight, int rows, int cols)
    {
        var q = new QuantizedLinear(grid, rows, cols);
        int groups = cols / q.Group;
        var scratch = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            grid.QuantizeRow(
                weight.Slice(r * cols, cols),
                q.Codes.AsSpan(r * cols, cols),
                q.Scales.AsSpan(r * groups, groups),
                q.Zeros.AsSpan(r * groups, groups),
                scratch);
        }

        return q;
    }
}
