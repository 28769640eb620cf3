using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fathom.Core;

/// <summary>
/// A read-only view of a row-major matrix [Rows, Cols] in its stored format: a linear layer's weight
/// [out_features, in_features], an embedding table, or a block of float32 activations. The data is
/// not copied: it points into a memory-mapped checkpoint or a pinned array that <see cref="Owner"/>
/// keeps alive. FP8 views carry their block scales: element (r, c) is
/// <c>value(r, c) * BlockScales[(FirstRow + r) / BlockRows, c / BlockCols]</c> (partial edge blocks
/// use their block's scale). INT8 (<see cref="DType.I8"/>) views carry scales the same way (per output
/// channel: blocks of 1 x RowStride); INT4 (<see cref="DType.U4"/>) views carry a scale and a zero point per
/// group of columns (blocks of 1 x group): element (r, c) is <c>(q(r, c) − ZeroPoints[i]) · BlockScales[i]</c>.
/// </summary>
public readonly unsafe struct WeightMatrix
{
    private readonly byte* _data;

    /// <summary>Bytes between the starts of consecutive rows (rows are whole blocks, so this is exact for block formats too).</summary>
    private readonly long _rowBytes;

    public WeightMatrix(
        DType type,
        void* data,
        int rows,
        int cols,
        int rowStride,
        object? owner,
        float[]? blockScales = null,
        int blockRows = 0,
        int blockCols = 0,
        int firstRow = 0,
        float[]? zeroPoints = null)
    {
        if (rows < 0 || cols < 0 || rowStride < cols)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"invalid matrix shape [{rows}, {cols}] with row stride {rowStride}");
        }

        if (type is DType.F8E4M3 or DType.I8 or DType.U4 && blockScales is null)
        {
            throw new ArgumentException($"an {type.ToSafeTensors()} matrix needs its block scales", nameof(blockScales));
        }

        if (type is DType.U4 && (zeroPoints is null || zeroPoints.Length < blockScales!.Length))
        {
            throw new ArgumentException("a U4 matrix needs one zero point per scale", nameof(zeroPoints));
        }

        if (type is DType.F8E4M3 or DType.I8 or DType.U4)
        {
            if (blockRows <= 0 || blockCols <= 0 || firstRow < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(blockRows), $"invalid FP8 blocks {blockRows}x{blockCols} (first row {firstRow})");
            }

            long needed = (long)((firstRow + rows + blockRows - 1) / blockRows) * ((rowStride + blockCols - 1) / blockCols);
            if (blockScales!.Length < needed)
            {
                throw new ArgumentException(
                    $"[{rows}, {cols}] (first row {firstRow}, stride {rowStride}) in {blockRows}x{blockCols} blocks needs {needed} block scales, got {blockScales.Length}",
                    nameof(blockScales));
            }
        }

        if (type.IsBlockFormat() && (rowStride % type.BlockElements() != 0 || cols % type.BlockElements() != 0))
        {
            throw new ArgumentException($"a {type.ToSafeTensors()} matrix needs rows of whole {type.BlockElements()}-weight blocks (cols {cols}, stride {rowStride})", nameof(cols));
        }

        if (type is DType.U4 && (rowStride % 2 != 0 || cols % 2 != 0))
        {
            throw new ArgumentException($"a U4 matrix needs an even number of columns (cols {cols}, stride {rowStride})", nameof(cols));
        }

        if (type is not (DType.F32 or DType.F16 or DType.BF16 or DType.F8E4M3 or DType.Q8_0 or DType.Q4K or DType.I8 or DType.U4))
        {
            throw new NotSupportedException($"weights of dtype {type.ToSafeTensors()} are not supported as a matrix");
        }

        Type = type;
        _data = (byte*)data;
        Rows = rows;
        Cols = cols;
        RowStride = rowStride;
        _rowBytes = type.BytesFor(rowStride);
        Owner = owner;
        BlockScales = blockScales;
        BlockRows = blockRows;
        BlockCols = blockCols;
        FirstRow = firstRow;
        ZeroPoints = zeroPoints;
    }

    public DType Type { get; }

    public int Rows { get; }

    public int Cols { get; }

    /// <summary>Elements between the starts of consecutive rows (≥ Cols; larger for column-limited views).</summary>
    public int RowStride { get; }

    /// <summary>Keeps the memory alive (a mapped file, a pinned array).</summary>
    public object? Owner { get; }

    public float[]? BlockScales { get; }

    public int BlockRows { get; }

    public int BlockCols { get; }

    /// <summary>The row of the underlying tensor that row 0 of this view is (for block-scale lookup).</summary>
    public int FirstRow { get; }

    /// <summary>U4 only: the zero point of each scale block (same layout as <see cref="BlockScales"/>).</summary>
    public float[]? ZeroPoints { get; }

    public bool IsEmpty => _data == null;

    /// <summary>Bytes the view's elements occupy in storage.</summary>
    public long StorageBytes => Type.BytesFor((long)Rows * Cols);

    public byte* RowPointer(int row) => _data + (row * _rowBytes);

    /// <summary>Wraps a pinned float32 array (see <see cref="PinnedBuffer.Allocate"/>) as a matrix.</summary>
    public static WeightMatrix FromPinned(float[] data, int rows, int cols, int offset = 0, int rowStride = -1)
    {
        if (rowStride < 0)
        {
            rowStride = cols;
        }

        if (offset < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "the offset into the array must not be negative");
        }

        if (rows > 0 && offset + ((long)(rows - 1) * rowStride) + cols > data.Length)
        {
            throw new ArgumentException($"[{rows}, {cols}] (stride {rowStride}, offset {offset}) exceeds the array of {data.Length}");
        }

        float* start = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(data)) + offset;
        return new WeightMatrix(DType.F32, start, rows, cols, rowStride, data);
    }

    /// <summary>Rows [start, start+count) of this matrix.</summary>
    public WeightMatrix SliceRows(int start, int count)
    {
        if ((uint)start > (uint)Rows || (uint)count > (uint)(Rows - start))
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) outside [0, {Rows})");
        }

        return new WeightMatrix(Type, RowPointer(start), count, Cols, RowStride, Owner, BlockScales, BlockRows, BlockCols, FirstRow + start, ZeroPoints);
    }

    /// <summary>Columns [0, count) of every row (only for formats without column blocks, or whole blocks).</summary>
    public WeightMatrix TakeColumns(int count)
    {
        if ((uint)count > (uint)Cols)
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

        return new WeightMatrix(Type, _data, Rows, count, RowStride, Owner, BlockScales, BlockRows, BlockCols, FirstRow, ZeroPoints);
    }

    /// <summary>The block scale of element (row, col) of this view.</summary>
    public float ScaleAt(int row, int col) => BlockScales![(((FirstRow + row) / BlockRows) * ScaleColsOfTensor) + (col / BlockCols)];

    // The scale tensor's row length follows the full tensor's width (RowStride for whole-tensor views).
    /// <summary>The index into <see cref="BlockScales"/> (and <see cref="ZeroPoints"/>) of element (row, col) of this view.</summary>
    public int ScaleIndex(int row, int col) => (((FirstRow + row) / BlockRows) * ScaleColsOfTensor) + (col / BlockCols);

    private int ScaleColsOfTensor => (RowStride + BlockCols - 1) / BlockCols;

    /// <summary>Plain, format-by-format dequantization of one row into float32: the reference for every kernel.</summary>
    public void DequantizeRow(int row, Span<float> destination) => DequantizeRange(row, 0, Cols, destination);

    /// <summary>Dequantizes columns [col, col+count) of one row into float32.</summary>
    public void DequantizeRange(int row, int col, int count, Span<float> destination)
    {
        if ((uint)row >= (uint)Rows || (uint)col > (uint)Cols || (uint)count > (uint)(Cols - col))
        {
            throw new ArgumentOutOfRangeException(nameof(row), $"row {row}, columns [{col}, {col + count}) outside [{Rows}, {Cols}]");
        }

        if (destination.Length < count)
        {
            throw new ArgumentException("destination too short", nameof(destination));
        }

        if (Type.IsBlockFormat())
        {
            BlockQuantization.DequantizeRange(Type, RowPointer(row), col, count, destination);
            return;
        }

        if (Type == DType.U4)
        {
            Int4Groups.DequantizeRange(this, row, col, count, destination);
            return;
        }

        byte* p = RowPointer(row) + ((long)col * Type.Size());
        switch (Type)
        {
            case DType.F32:
                new ReadOnlySpan<float>(p, count).CopyTo(destination);
                break;
            case DType.BF16:
                var bf = (ushort*)p;
                for (int c = 0; c < count; c++)
                {
                    destination[c] = BFloat16.ToSingle(bf[c]);
                }

                break;
            case DType.F16:
                var h = (Half*)p;
                for (int c = 0; c < count; c++)
                {
                    destination[c] = (float)h[c];
                }

                break;
            case DType.F8E4M3:
                var table = Float8E4M3.DecodeTable;
                int scaleRow = ((FirstRow + row) / BlockRows) * ScaleColsOfTensor;
                var scales = BlockScales!;
                for (int c = 0; c < count; c++)
                {
                    destination[c] = table[p[c]] * scales[scaleRow + ((col + c) / BlockCols)];
                }

                break;
            case DType.I8:
                var q = (sbyte*)p;
                for (int c = 0; c < count; c++)
                {
                    destination[c] = q[c] * BlockScales![ScaleIndex(row, col + c)];
                }

                break;
            default:
                throw new NotSupportedException(Type.ToString());
        }
    }

    public override string ToString() => $"{Type.ToSafeTensors()}[{Rows}, {Cols}]";
}
