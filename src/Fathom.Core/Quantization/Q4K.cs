namespace Fathom.Core;

/// <summary>GGML Q4_K super-blocks of 256 weights (to be completed: see the block layout in DType.Q4K).</summary>
public static unsafe class Q4K
{
    public const int BlockElements = 256;
    public const int BlockBytes = 144;

    public static void DequantizeBlock(byte* block, Span<float> destination) =>
        throw new NotImplementedException("Q4_K dequantization");
}
