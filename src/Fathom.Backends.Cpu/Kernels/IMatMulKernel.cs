using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// A fused dequantize-and-dot kernel for one weight format: y[r, o] = x_r · W_o. The backend calls
/// <see cref="Prepare"/> once per product on the calling thread (to convert or quantize the
/// activations), then <see cref="Run"/> on every worker for disjoint ranges of output rows. A kernel
/// owns its scratch (per worker) and is used by one product at a time.
/// </summary>
internal unsafe interface IMatMulKernel
{
    void Prepare(in WeightMatrix w, float* x, int rows);

    /// <summary>Output rows [start, end) of W for all <paramref name="rows"/> activation rows; y is [rows, W.Rows].</summary>
    void Run(in WeightMatrix w, float* x, int rows, float* y, int start, int end, int worker);
}
