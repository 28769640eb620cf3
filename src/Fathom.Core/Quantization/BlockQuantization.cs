namespace Fathom.Core;

/// <summary>Scalar reference encode/decode of the GGML block formats (Q8_0, Q4_K), bit-compatible with GGML.</summary>
public static unsafe class BlockQuantization
{
    /// <summary>Dequantizes weights [col, col+count) of one row stored in <paramref name="type"/> blocks.</summary>
    public static void DequantizeRange(DType type, byte* row, int col, int count, Span<float> destination)
    {
        int block = type.BlockElements();
        int firstBlock = col / block;
        int lastBlock = (col + count - 1) / block;
        Span<float> values = stackalloc float[256];
        for (int b = firstBlock; b <= lastBlock; b++)
        {
            byte* p = row + ((long)b * type.BlockBytes());
            switch (type)
            {
                case DType.Q8_0:
                    Q8_0.DequantizeBlock(p, values[..32]);
                    break;
                case DType.Q4K:
                    Q4K.DequantizeBlock(p, values);
                    break;
                default:
                    throw new NotSupportedException(type.ToString());
            }

            int start = Math.Max(col, b * block), end = Math.Min(col + count, (b + 1) * block);
            values[(start - (b * block))..(end - (b * block))].CopyTo(destination[(start - col)..]);
        }
    }
}
