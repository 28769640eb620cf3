using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>A register-tiled x · W kernel: workers take disjoint tiles of <see cref="TileColumns"/> output columns.</summary>
internal unsafe interface ITransposedKernel
{
    int TileColumns { get; }

    bool Handles(in WeightMatrix w);

    /// <summary>Column tiles [startTile, endTile) of y [rows, W.Cols] from x [rows, W.Rows].</summary>
    void Run(in WeightMatrix w, float* x, int rows, float* y, int startTile, int endTile);
}
