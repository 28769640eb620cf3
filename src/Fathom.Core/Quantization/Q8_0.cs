using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fathom.Core;

/// <summary>
/// GGML Q8_0 blocks of 32 weights: an f16 scale d, then 32 int8 q; weight = d · q. Encoding follows GGML's
/// reference quantizer bit for bit: d = max|x| / 127 rounded to f16 for storage, while q = round(x · (1/d))
/// uses the unrounded float d and rounds halves away from zero (C's roundf).
/// </summary>
public static unsafe class Q8_0
{
    public const int BlockElements = 32;
    public const int BlockBytes = 34;

    public static void DequantizeBlock(byte* block, Span<float> destination)
    {
        float d = (float)*(Half*)block;
        var q = (sbyte*)(block + 2);
        if (Vector256.IsHardwareAccelerated && destination.Length >= BlockElements)
        {
            // int8 → int16 → int32 → float, times d: the product is the same float the scalar loop gives.
            var (lo, hi) = Vector256.Widen(Vector256.Load(q));
            var scale = Vector256.Create(d);
            var (a, b) = Vector256.Widen(lo);
            var (c, e) = Vector256.Widen(hi);
            fixed (float* y = destination)
            {
                (Vector256.ConvertToSingle(a) * scale).Store(y);
                (Vector256.ConvertToSingle(b) * scale).Store(y + 8);
                (Vector256.ConvertToSingle(c) * scale).Store(y + 16);
                (Vector256.ConvertToSingle(e) * scale).Store(y + 24);
            }

            return;
        }

        for (int i = 0; i < BlockElements; i++)
        {
            destination[i] = d * q[i];
        }
    }

    /// <summary>Encodes 32 floats into one 34-byte block.</summary>
    /// <remarks>
    /// A vector at a time: the largest magnitude does not depend on the order it is taken in, and each level
    /// is x · id rounded half away from zero, lane by lane exactly as <see cref="MathF.Round(float, MidpointRounding)"/>
    /// rounds it (the truncation plus one step away from zero where the dropped part is at least a half).
    /// </remarks>
    [SkipLocalsInit]
    public static void QuantizeBlock(ReadOnlySpan<float> x, byte* block)
    {
        x = x[..BlockElements];
        int lanes = Vector<float>.Count;
        var largest = Vector<float>.Zero;
        for (int i = 0; i < BlockElements; i += lanes)
        {
            largest = Vector.Max(largest, Vector.Abs(new Vector<float>(x.Slice(i, lanes))));
        }

        float amax = 0;
        for (int k = 0; k < lanes; k++)
        {
            amax = Math.Max(amax, largest[k]);
        }

        float d = amax / 127;
        float id = d != 0 ? 1f / d : 0f;
        *(Half*)block = (Half)d;
        var q = (sbyte*)(block + 2);
        var scale = new Vector<float>(id);
        var half = new Vector<float>(0.5f);
        Span<int> levels = stackalloc int[lanes];
        for (int i = 0; i < BlockElements; i += lanes)
        {
            var v = new Vector<float>(x.Slice(i, lanes)) * scale;
            var whole = Vector.Truncate(v);
            var dropped = v - whole;
            var up = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(dropped, half), Vector<float>.One, Vector<float>.Zero);
            var down = Vector.ConditionalSelect(Vector.LessThanOrEqual(dropped, -half), Vector<float>.One, Vector<float>.Zero);
            Vector.ConvertToInt32(whole + up - down).CopyTo(levels);
            for (int k = 0; k < lanes; k++)
            {
                q[i + k] = (sbyte)levels[k];
            }
        }
    }

    /// <summary>Encodes a row whose length is a multiple of 32 into consecutive blocks.</summary>
    public static void QuantizeRow(ReadOnlySpan<float> x, byte* destination)
    {
        BlockQuantization.CheckWholeBlocks(x.Length, BlockElements);
        for (int b = 0; b < x.Length / BlockElements; b++)
        {
            QuantizeBlock(x.Slice(b * BlockElements, BlockElements), destination + (b * BlockBytes));
        }
    }

    public static void DequantizeRow(byte* source, Span<float> destination)
    {
        BlockQuantization.CheckWholeBlocks(destination.Length, BlockElements);
        for (int b = 0; b < destination.Length / BlockElements; b++)
        {
            DequantizeBlock(source + (b * BlockBytes), destination.Slice(b * BlockElements, BlockElements));
        }
    }
}
