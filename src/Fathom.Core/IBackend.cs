namespace Fathom.Core;

/// <summary>
/// The compute contract the model is written against. Matrices follow the checkpoint convention: a
/// weight is [out, in] and a linear layer computes y = x · Wᵀ. Activations are row-major float32 spans
/// [rows, width].
/// </summary>
public interface IBackend
{
    string Name { get; }

    /// <summary>y[rows, W.Rows] = x[rows, W.Cols] · Wᵀ.</summary>
    void MatMul(in WeightMatrix weight, ReadOnlySpan<float> x, Span<float> y, int rows);

    /// <summary>y[rows, W.Cols] = x[rows, W.Rows] · W.</summary>
    void MatMulTransposed(in WeightMatrix weight, ReadOnlySpan<float> x, Span<float> y, int rows);

    /// <summary>y[i, :] = table[ids[i], :].</summary>
    void Embedding(in WeightMatrix table, ReadOnlySpan<int> ids, Span<float> y);

    /// <summary>Per row of width weight.Length: y = weight ⊙ x / sqrt(mean(x²) + eps).</summary>
    void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y);

    /// <summary>y = silu(gate) ⊙ up.</summary>
    void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y);

    /// <summary>y += a · x.</summary>
    void ScaleAdd(ReadOnlySpan<float> x, float a, Span<float> y);

    /// <summary>In-place softmax over the span (entries of -∞ get probability 0).</summary>
    void Softmax(Span<float> x);

    /// <summary>
    /// Rotates consecutive pairs (x[2i], x[2i+1]) by the angle whose cosine and sine are cos[i], sin[i]:
    /// the interleaved RoPE layout of DeepSeek checkpoints. x.Length == 2 · cos.Length.
    /// </summary>
    void RopeInterleaved(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin);
}
