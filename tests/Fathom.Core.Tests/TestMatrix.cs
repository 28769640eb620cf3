using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fathom.Core;

namespace Fathom.Core.Tests;

/// <summary>
/// A random matrix stored in one of the weight formats over pinned memory, together with the value of
/// every element worked out from its stored bits by the format rules alone (not through WeightMatrix), so
/// that dequantization and the kernels built on it can be compared against it.
/// </summary>
internal sealed unsafe class TestMatrix
{
    private TestMatrix(WeightMatrix matrix, float[] values, float[]? scales)
    {
        Matrix = matrix;
        Values = values;
        Scales = scales;
    }

    public WeightMatrix Matrix { get; }

    /// <summary>Element values, row-major [Rows, Cols].</summary>
    public float[] Values { get; }

    /// <summary>FP8 block scales, row-major [ceil(Rows / BlockRows), ceil(Cols / BlockCols)].</summary>
    public float[]? Scales { get; }

    public int Rows => Matrix.Rows;

    public int Cols => Matrix.Cols;

    public ReadOnlySpan<float> Row(int r) => Values.AsSpan(r * Cols, Cols);

    /// <summary>A [rows, cols] matrix of <paramref name="type"/> with random contents.</summary>
    public static TestMatrix Random(DType type, int rows, int cols, int seed, int blockRows = 128, int blockCols = 128)
    {
        var random = new Random(seed);
        var values = new float[rows * cols];
        switch (type)
        {
            case DType.F32:
            {
                var data = PinnedBuffer.Allocate(rows * cols);
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = data[i] = Uniform(random);
                }

                return new TestMatrix(WeightMatrix.FromPinned(data, rows, cols), values, null);
            }

            case DType.BF16:
            {
                var bytes = Pinned(rows * cols * 2, out byte* p);
                var bits = (ushort*)p;
                for (int i = 0; i < values.Length; i++)
                {
                    // bf16 is the upper half of a float32: keep the top 16 bits of a random float.
                    bits[i] = (ushort)(BitConverter.SingleToUInt32Bits(Uniform(random)) >> 16);
                    values[i] = BitConverter.UInt32BitsToSingle((uint)bits[i] << 16);
                }

                return new TestMatrix(new WeightMatrix(type, p, rows, cols, cols, bytes), values, null);
            }

            case DType.F16:
            {
                var bytes = Pinned(rows * cols * 2, out byte* p);
                var halves = (Half*)p;
                for (int i = 0; i < values.Length; i++)
                {
                    halves[i] = (Half)Uniform(random);
                    values[i] = (float)halves[i];
                }

                return new TestMatrix(new WeightMatrix(type, p, rows, cols, cols, bytes), values, null);
            }

            case DType.F8E4M3:
            {
                int scaleRows = (rows + blockRows - 1) / blockRows, scaleCols = (cols + blockCols - 1) / blockCols;
                var scales = new float[Math.Max(1, scaleRows * scaleCols)];
                for (int i = 0; i < scales.Length; i++)
                {
                    // Scales of the size DeepSeek's are (about 448⁻¹ · max |w|), varied so every block differs.
                    scales[i] = (float)((0.5 + random.NextDouble()) * Math.Pow(2, -9 + random.Next(4)));
                }

                var bytes = Pinned(rows * cols, out byte* p);
                for (int r = 0; r < rows; r++)
                {
                    for (int c = 0; c < cols; c++)
                    {
                        byte code;
                        do
                        {
                            code = (byte)random.Next(256);
                        }
                        while (E4M3Reference.IsNaNCode(code));

                        p[(r * cols) + c] = code;
                        double scale = scales[((r / blockRows) * scaleCols) + (c / blockCols)];
                        values[(r * cols) + c] = (float)(E4M3Reference.Decode(code) * scale);
                    }
                }

                return new TestMatrix(new WeightMatrix(type, p, rows, cols, cols, bytes, scales, blockRows, blockCols), values, scales);
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }

    /// <summary>
    /// A float32 [rows, cols] view at <paramref name="offset"/> into a pinned array whose rows are
    /// <paramref name="rowStride"/> apart; the padding between rows holds NaN so that reading it shows.
    /// </summary>
    public static TestMatrix Strided(int rows, int cols, int rowStride, int offset, int seed)
    {
        var random = new Random(seed);
        var data = PinnedBuffer.Allocate(offset + (rows * rowStride) + 1);
        data.AsSpan().Fill(float.NaN);
        var values = new float[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                values[(r * cols) + c] = data[offset + (r * rowStride) + c] = Uniform(random);
            }
        }

        return new TestMatrix(WeightMatrix.FromPinned(data, rows, cols, offset, rowStride), values, null);
    }

    /// <summary>Random activations in [-1, 1).</summary>
    public static float[] Activations(int length, int seed)
    {
        var random = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = Uniform(random);
        }

        return x;
    }

    private static float Uniform(Random random) => (float)((random.NextDouble() * 2) - 1);

    private static byte[] Pinned(int length, out byte* pointer)
    {
        var bytes = GC.AllocateArray<byte>(Math.Max(length, 1), pinned: true);
        pointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(bytes));
        return bytes;
    }
}
