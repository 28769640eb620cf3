namespace Fathom.Backends.Cuda;

/// <summary>
/// Rows of activations as quantize_e4m3x3 (Kernels/mma.cu) writes them: <see cref="Terms"/> [rows, 3, K] e4m3
/// bytes and <see cref="Scales"/> [rows, ⌈K / 128⌉] floats.
/// </summary>
internal readonly record struct E4m3Rows(ulong Terms, ulong Scales)
{
    public static E4m3Rows Allocate(CudaContext gpu, long rows, long cols, string what) =>
        new(gpu.Allocate(rows * 3 * cols, what), gpu.Allocate(rows * ((cols + 127) / 128) * sizeof(float), what + " (block scales)"));
}
