using Fathom.Core;

namespace Fathom.Backends.Cuda;

/// <summary>Storage type of a weight on the device, as the kernels number them (WT_* in common.cuh).</summary>
internal enum WeightKind
{
    F32 = 0,
    BF16 = 1,
    Fp8 = 2,
}

/// <summary>A weight [Rows, Cols] in device memory in its stored type; FP8 carries its block scales.</summary>
internal readonly record struct DeviceMatrix(ulong Data, ulong Scales, WeightKind Kind, int Rows, int Cols, int BlockRows, int BlockCols, int ScaleCols)
{
    public long Bytes => (long)Rows * Cols * (Kind switch { WeightKind.F32 => 4, WeightKind.BF16 => 2, _ => 1 });

    /// <summary>Copies a host weight to the device (F16, INT8 and INT4 widened to F32; GGML block formats are CPU-only).</summary>
    public static unsafe DeviceMatrix Upload(CudaContext gpu, in WeightMatrix w, string what)
    {
        if (w.RowStride != w.Cols || w.FirstRow != 0)
        {
            throw new NotSupportedException($"{what}: only whole, contiguous tensors can be uploaded (stride {w.RowStride}, first row {w.FirstRow})");
        }

        long count = (long)w.Rows * w.Cols;
        switch (w.Type)
        {
            case DType.F32:
            case DType.BF16:
            {
                var kind = w.Type == DType.F32 ? WeightKind.F32 : WeightKind.BF16;
                ulong data = gpu.Allocate(w.StorageBytes, what);
                gpu.Upload(data, w.RowPointer(0), w.StorageBytes);
                return new DeviceMatrix(data, 0, kind, w.Rows, w.Cols, 0, 0, 0);
            }

            case DType.F16:
            {
                var widened = new float[count];
                var h = new ReadOnlySpan<Half>(w.RowPointer(0), checked((int)count));
                for (int i = 0; i < widened.Length; i++)
                {
                    widened[i] = (float)h[i];
                }

                ulong data = gpu.Allocate(count * 4, what);
                gpu.Upload<float>(data, widened);
                return new DeviceMatrix(data, 0, WeightKind.F32, w.Rows, w.Cols, 0, 0, 0);
            }

            case DType.F8E4M3:
            {
                ulong data = gpu.Allocate(count, what);
                gpu.Upload(data, w.RowPointer(0), count);
                var scales = w.BlockScales!;
                ulong s = gpu.Allocate((long)scales.Length * 4, what + " scales");
                gpu.Upload<float>(s, scales);
                int scaleCols = (w.Cols + w.BlockCols - 1) / w.BlockCols;
                return new DeviceMatrix(data, s, WeightKind.Fp8, w.Rows, w.Cols, w.BlockRows, w.BlockCols, scaleCols);
            }

            case DType.I8:
            case DType.U4:
            {
                // INT8 (w8a8_int8) and INT4 (AWQ) checkpoints: dequantized once at upload into float32,
                // exactly (integer × scale, − zero point); there are no integer kernels on the GPU yet.
                var widened = new float[count];
                for (int r = 0; r < w.Rows; r++)
                {
                    w.DequantizeRow(r, widened.AsSpan(r * w.Cols, w.Cols));
                }

                ulong data = gpu.Allocate(count * 4, what);
                gpu.Upload<float>(data, widened);
                return new DeviceMatrix(data, 0, WeightKind.F32, w.Rows, w.Cols, 0, 0, 0);
            }

            default:
                throw new NotSupportedException($"{what} is {w.Type.ToSafeTensors()}: the CUDA backend runs F32, F16, BF16, block-scaled F8_E4M3, INT8 and AWQ INT4 weights (GGML quantizations are CPU-only; drop --quantize)");
        }
    }
}

/// <summary>A float32 vector (norm weights, router bias) on the device.</summary>
internal static class DeviceVector
{
    public static ulong Upload(CudaContext gpu, float[] values, string what)
    {
        ulong p = gpu.Allocate((long)values.Length * 4, what);
        gpu.Upload<float>(p, values);
        return p;
    }
}
