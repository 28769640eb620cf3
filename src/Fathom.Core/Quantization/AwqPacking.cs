namespace Fathom.Core;

/// <summary>
/// AWQ's published INT4 layout ("gemm" version), as AutoAWQ writes it and vLLM/SGLang read it, for a linear
/// layer of [out, in]: <c>qweight</c> int32 [in, out/8], <c>qzeros</c> int32 [in/group, out/8] and
/// <c>scales</c> f16 [in/group, out]; weight (o, i) = (q − zero) · scale of group i / group. Each int32 holds
/// eight output columns, nibble k (bits 4k…4k+3) holding column 8j + <see cref="Order"/>[k].
/// </summary>
public static class AwqPacking
{
    /// <summary>Nibble k of a packed int32 holds output column <c>Order[k]</c> of its eight.</summary>
    public static ReadOnlySpan<int> Order => [0, 2, 4, 6, 1, 3, 5, 7];

    /// <summary>The nibble that holds output column j (0–7) of a packed int32: the inverse of <see cref="Order"/>.</summary>
    public static ReadOnlySpan<int> NibbleOf => [0, 4, 1, 5, 2, 6, 3, 7];

    /// <summary>
    /// Repacks AWQ tensors into the row-major <see cref="Int4Groups"/> layout: nibbles [out, in/2], scales and
    /// zero points [out, in/group].
    /// </summary>
    public static void Unpack(
        ReadOnlySpan<int> qweight, ReadOnlySpan<int> qzeros, ReadOnlySpan<Half> scales, int inFeatures, int outFeatures, int groupSize,
        Span<byte> nibbles, Span<float> rowScales, Span<float> rowZeros)
    {
        Check(inFeatures, outFeatures, groupSize);
        int packedCols = outFeatures / 8, groups = inFeatures / groupSize;
        var nibbleOf = NibbleOf;
        for (int i = 0; i < inFeatures; i++)
        {
            for (int j = 0; j < packedCols; j++)
            {
                uint word = (uint)qweight[(i * packedCols) + j];
                for (int k = 0; k < 8; k++)
                {
                    int o = (8 * j) + k;
                    int code = (int)((word >> (4 * nibbleOf[k])) & 0xF);
                    ref byte b = ref nibbles[((o * inFeatures) + i) >> 1];
                    b = (i & 1) == 0 ? (byte)((b & 0xF0) | code) : (byte)((b & 0x0F) | (code << 4));
                }
            }
        }

        for (int g = 0; g < groups; g++)
        {
            for (int j = 0; j < packedCols; j++)
            {
                uint word = (uint)qzeros[(g * packedCols) + j];
                for (int k = 0; k < 8; k++)
                {
                    int o = (8 * j) + k;
                    rowZeros[(o * groups) + g] = (word >> (4 * nibbleOf[k])) & 0xF;
                    rowScales[(o * groups) + g] = (float)scales[(g * outFeatures) + o];
                }
            }
        }
    }

    /// <summary>
    /// Packs codes [out, in] (0–15, one per byte), zero points [out, in/group] (0–15) and scales [out, in/group]
    /// into AWQ's tensors.
    /// </summary>
    public static (int[] QWeight, int[] QZeros, Half[] Scales) Pack(
        ReadOnlySpan<byte> codes, ReadOnlySpan<float> zeros, ReadOnlySpan<float> scales, int inFeatures, int outFeatures, int groupSize)
    {
        Check(inFeatures, outFeatures, groupSize);
        int packedCols = outFeatures / 8, groups = inFeatures / groupSize;
        var qweight = new int[inFeatures * packedCols];
        var qzeros = new int[groups * packedCols];
        var halfScales = new Half[groups * outFeatures];
        var order = Order;
        for (int i = 0; i < inFeatures; i++)
        {
            for (int j = 0; j < packedCols; j++)
            {
                uint word = 0;
                for (int k = 0; k < 8; k++)
                {
                    word |= (uint)(codes[(((8 * j) + order[k]) * inFeatures) + i] & 0xF) << (4 * k);
                }

                qweight[(i * packedCols) + j] = (int)word;
            }
        }

        for (int g = 0; g < groups; g++)
        {
            for (int j = 0; j < packedCols; j++)
            {
                uint word = 0;
                for (int k = 0; k < 8; k++)
                {
                    word |= ((uint)zeros[((((8 * j) + order[k]) * groups) + g)] & 0xF) << (4 * k);
                }

                qzeros[(g * packedCols) + j] = (int)word;
            }

            for (int o = 0; o < outFeatures; o++)
            {
                halfScales[(g * outFeatures) + o] = (Half)scales[(o * groups) + g];
            }
        }

        return (qweight, qzeros, halfScales);
    }

    private static void Check(int inFeatures, int outFeatures, int groupSize)
    {
        if (outFeatures % 8 != 0)
        {
            throw new ArgumentException($"AWQ packs eight output columns per int32; {outFeatures} outputs is not a multiple of 8");
        }

        if (groupSize <= 0 || inFeatures % groupSize != 0)
        {
            throw new ArgumentException($"group size {groupSize} does not divide the {inFeatures} input features");
        }
    }
}
