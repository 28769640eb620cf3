namespace Fathom.Core;

/// <summary>Reference encode/decode of the GGML block formats (Q8_0, Q4_K), bit-compatible with GGML.</summary>
public static unsafe class BlockQuantization
{
    /// <summary>Dequantizes weights [col, col+count) of one row stored in <paramref name="type"/> blocks.</summary>
    public static void DequantizeRange(DType type, byte* row, int col, int count, Span<float> destination)
    {
        if (count <= 0)
        {
            return;
        }

        int block = type.BlockElements();
        int blockBytes = type.BlockBytes();
        int firstBlock = col / block;
        int lastBlock = (col + count - 1) / block;
        Span<float> values = stackalloc float[256];
        for (int b = firstBlock; b <= lastBlock; b++)
        {
            int start = Math.Max(col, b * block), end = Math.Min(col + count, (b + 1) * block);
            byte* p = row + ((long)b * blockBytes);
            // Whole blocks decode straight into the destination; only partial edge blocks go through scratch.
            var target = end - start == block ? destination.Slice(start - col, block) : values[..block];
            DequantizeBlock(type, p, target);
            if (end - start != block)
            {
                values[(start - (b * block))..(end - (b * block))].CopyTo(destination[(start - col)..]);
            }
        }
    }

    /// <summary>Decodes one block of <paramref name="type"/> into its <see cref="DTypeInfo.BlockElements"/> floats.</summary>
    public static void DequantizeBlock(DType type, byte* block, Span<float> destination)
    {
        switch (type)
        {
            case DType.Q8_0:
                Q8_0.DequantizeBlock(block, destination);
                break;
            case DType.Q4K:
                Q4K.DequantizeBlock(block, destination);
                break;
            default:
                throw new NotSupportedException($"{type.ToSafeTensors()} is not a block format");
        }
    }

    /// <summary>Encodes a row (a whole number of blocks) into <paramref name="type"/> blocks at <paramref name="destination"/>.</summary>
    public static void QuantizeRow(DType type, ReadOnlySpan<float> x, byte* destination)
    {
        switch (type)
        {
            case DType.Q8_0:
                Q8_0.QuantizeRow(x, destination);
                break;
            case DType.Q4K:
                Q4K.QuantizeRow(x, destination);
                break;
            default:
                throw new NotSupportedException($"{type.ToSafeTensors()} is not a block format");
        }
    }

    internal static void CheckWholeBlocks(int length, int block)
    {
        if (length % block != 0)
        {
            throw new ArgumentException($"{length} values are not a whole number of {block}-value blocks");
        }
    }
}
