using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Activations multiplied by the factors (scale · 2^120) of one row of FP8 scale blocks:
/// xs[t, c] = x[t, c] · scale(rowBlock, c / BlockCols) · 2^120. With them an FP8 product is a plain dot
/// product of the raw widened bytes (<see cref="Lanes.IFloatLanes{TSelf}.LoadFp8"/>) with xs, so the inner
/// loops spend no multiply per weight vector on the scale; the factors are applied once per 128 weight rows
/// instead. Every path (fused decode rows, tiles, single rows) takes its activations from here, so they all
/// round identically. It also makes the eight-row decode tiles' interleaved copies (<see cref="Interleaved8{TLanes}"/>,
/// BF16 rows unscaled). One per worker; the last copy is kept until a different one is asked for.
/// </summary>
internal sealed unsafe class Fp8ScaledActivations
{
    private float[] _buffer = [];
    private float* _source;
    private int _tokens;
    private int _rowBlock = -1;
    private float[]? _scales;
    private bool _interleaved;

    /// <summary>Whether <paramref name="w"/>'s products take this route: whole 64-column groups inside whole scale blocks.</summary>
    public static bool Applies(in WeightMatrix w) =>
        w.Type == DType.F8E4M3 && w.Cols % 64 == 0 && w.BlockCols % 64 == 0 && w.BlockRows % 4 == 0;

    /// <summary>Whether weight rows <paramref name="first"/> and <paramref name="last"/> share one row of scale blocks.</summary>
    public static bool SameScaleRow(in WeightMatrix w, int first, int last) =>
        (w.FirstRow + first) / w.BlockRows == (w.FirstRow + last) / w.BlockRows;

    /// <summary>
    /// How many of the weight rows from <paramref name="first"/> (at most <paramref name="most"/>, none past
    /// <paramref name="end"/>) one tile takes: all of them, or with <paramref name="scaled"/> activations only
    /// those in <paramref name="first"/>'s row of scale blocks (one scaled copy of the activations per tile).
    /// </summary>
    public static int TileRows(in WeightMatrix w, bool scaled, int first, int end, int most)
    {
        int n = Math.Min(most, end - first);
        if (!scaled)
        {
            return n;
        }

        int blockEnd = ((((w.FirstRow + first) / w.BlockRows) + 1) * w.BlockRows) - w.FirstRow;
        return Math.Min(n, blockEnd - first);
    }

    /// <summary>Forgets the cached copy (a new product may reuse the same addresses with other values).</summary>
    public void Reset()
    {
        _rowBlock = -1;
        _scales = null;
        _source = null;
    }

    /// <summary>x [tokens, W.Cols] scaled for weight row <paramref name="row"/>'s row of scale blocks.</summary>
    public float* For(in WeightMatrix w, int row, float* x, int tokens)
    {
        int rowBlock = (w.FirstRow + row) / w.BlockRows;
        int cols = w.Cols;
        if (!_interleaved && rowBlock == _rowBlock && x == _source && tokens == _tokens && ReferenceEquals(_scales, w.BlockScales))
        {
            return Start(_buffer);
        }

        _buffer = PinnedBuffer.Ensure(_buffer, tokens * cols);
        float* xs = Start(_buffer);
        for (int c0 = 0; c0 < cols; c0 += w.BlockCols)
        {
            float factor = w.ScaleAt(row, c0) * Fp8Lanes.TwoPow120;
            int width = Math.Min(w.BlockCols, cols - c0);
            for (int t = 0; t < tokens; t++)
            {
                long offset = ((long)t * cols) + c0;
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(x + offset, width), factor, new Span<float>(xs + offset, width));
            }
        }

        _interleaved = false;
        _rowBlock = rowBlock;
        _source = x;
        _tokens = tokens;
        _scales = w.BlockScales;
        return xs;
    }

    /// <summary>
    /// Eight activation rows x [8, W.Cols] interleaved for <see cref="DenseDecodeKernel{TLanes}.Group8"/>: for each
    /// step of <typeparamref name="TLanes"/>.Count columns, the eight rows' vectors one after the other; with
    /// <paramref name="scale"/> each multiplied by weight row <paramref name="row"/>'s factors as <see cref="For"/>
    /// multiplies them (the same single rounding). Kept until a different one is asked for, as <see cref="For"/>'s.
    /// </summary>
    public float* Interleaved8<TLanes>(in WeightMatrix w, int row, float* x, bool scale)
        where TLanes : struct, Lanes.IFloatLanes<TLanes>
    {
        int rowBlock = scale ? (w.FirstRow + row) / w.BlockRows : -1;
        int cols = w.Cols, lanes = TLanes.Count;
        if (_interleaved && rowBlock == _rowBlock && x == _source && _tokens == 8 && ReferenceEquals(_scales, scale ? w.BlockScales : null))
        {
            return Start(_buffer);
        }

        _buffer = PinnedBuffer.Ensure(_buffer, 8 * cols);
        float* xi = Start(_buffer);
        for (int c = 0; c < cols; c += lanes)
        {
            var factor = TLanes.Create(scale ? w.ScaleAt(row, c) * Fp8Lanes.TwoPow120 : 1f);
            float* to = xi + ((long)c * 8);
            for (int t = 0; t < 8; t++)
            {
                var v = TLanes.Load(x + ((long)t * cols) + c);
                TLanes.Store(scale ? TLanes.Multiply(v, factor) : v, to + (t * lanes));
            }
        }

        _interleaved = true;
        _rowBlock = rowBlock;
        _source = x;
        _tokens = 8;
        _scales = scale ? w.BlockScales : null;
        return xi;
    }

    /// <summary>The first element of a pinned array (it never moves).</summary>
    private static float* Start(float[] pinned) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
}
