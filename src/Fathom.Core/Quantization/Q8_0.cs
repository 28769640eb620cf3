namespace Fathom.Core;

/// <summary>GGML Q8_0 blocks: f16 scale d, then 32 int8 q; weight = d · q.</summary>
public static unsafe class Q8_0
{
    public const int BlockElements = 32;
    public const int BlockBytes = 34;

    public static void DequantizeBlock(byte* block, Span<float> destination)
    {
        float d = (float)*(Half*)block;
        var q = (sbyte*)(block + 2);
        for (int i = 0; i < BlockElements; i++)
        {
            destination[i] = d * q[i];
        }
    }
}
