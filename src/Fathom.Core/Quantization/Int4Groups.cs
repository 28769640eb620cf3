namespace Fathom.Core;

/// <summary>
/// The in-memory INT4 layout (<see cref="DType.U4"/>): a row-major [rows, cols] matrix of 4-bit codes, two
/// per byte (low nibble = even column), with a scale and a zero point per (row, group of columns). Both
/// AWQ checkpoints and Fathom's own quantizer end up here; this is the plain reference decoder.
/// </summary>
public static unsafe class Int4Groups
{
    /// <summary>Builds a U4 view over pinned storage (see <see cref="AllocatePinned"/>).</summary>
    public static WeightMatrix Create(byte[] nibbles, float[] scales, float[] zeros, int rows, int cols, int groupSize)
    {
        ArgumentNullException.ThrowIfNull(nibbles);
        if (groupSize <= 0 || cols % groupSize != 0 || groupSize % 2 != 0)
        {
            throw new ArgumentException($"group size {groupSize} must be even and divide the {cols} columns", nameof(groupSize));
        }

        if (nibbles.Length < (long)rows * cols / 2 || scales.Length < (long)rows * (cols / groupSize))
        {
            throw new ArgumentException($"storage too small for U4[{rows}, {cols}] in groups of {groupSize}");
        }

        fixed (byte* p = nibbles)
        {
            // The array is pinned (allocated on the pinned heap), so the address stays valid; the view owns it.
            return new WeightMatrix(DType.U4, p, rows, cols, cols, nibbles, scales, 1, groupSize, 0, zeros);
        }
    }

    public static byte[] AllocatePinned(long bytes) => GC.AllocateArray<byte>((int)Math.Max(bytes, 1), pinned: true);

    /// <summary>The 4-bit code of column <paramref name="col"/> of a packed row.</summary>
    public static int Code(byte* row, int col) => (row[col >> 1] >> ((col & 1) << 2)) & 0xF;

    /// <summary>Reference dequantization: (code − zero) · scale, element by element.</summary>
    public static void DequantizeRange(in WeightMatrix w, int row, int col, int count, Span<float> destination)
    {
        byte* p = w.RowPointer(row);
        var scales = w.BlockScales!;
        var zeros = w.ZeroPoints!;
        for (int c = 0; c < count; c++)
        {
            int i = w.ScaleIndex(row, col + c);
            destination[c] = (Code(p, col + c) - zeros[i]) * scales[i];
        }
    }

    /// <summary>Packs codes (one per byte, 0–15) of a [rows, cols] matrix into nibbles.</summary>
    public static void Pack(ReadOnlySpan<byte> codes, Span<byte> nibbles)
    {
        for (int i = 0; i < codes.Length / 2; i++)
        {
            nibbles[i] = (byte)((codes[2 * i] & 0xF) | ((codes[(2 * i) + 1] & 0xF) << 4));
        }
    }
}
