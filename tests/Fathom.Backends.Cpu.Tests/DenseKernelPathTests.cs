using Fathom.Core;
using Fathom.Core.Tests;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>
/// The dense kernel's paths (fused decode rows, 4x4 tiles, leftover rows) on shapes that reach each of
/// them: matrices taller than one 128-row FP8 scale block, split into chunks that do not start on a
/// multiple of four, and batches of every size up to a token block and past it.
/// </summary>
public sealed class DenseKernelPathTests
{
    private readonly ReferenceBackend _reference = new();

    public static TheoryData<DType, int> Shapes() => new()
    {
        { DType.F8E4M3, 1 }, { DType.F8E4M3, 2 }, { DType.F8E4M3, 3 }, { DType.F8E4M3, 4 }, { DType.F8E4M3, 5 }, { DType.F8E4M3, 70 },
        { DType.BF16, 1 }, { DType.BF16, 3 }, { DType.BF16, 4 }, { DType.BF16, 70 },
        { DType.F32, 1 }, { DType.F32, 6 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TallMatricesMatchTheReferenceAcrossScaleBlocks(DType type, int tokens)
    {
        // 301 rows span three 128-row scale blocks; with 2 threads the pool's chunks start at 37, 74, …
        using var cpu = new CpuBackend(2);
        foreach (int cols in new[] { 256, 384, 272 })
        {
            var w = TestMatrix.Random(type, 301, cols, seed: cols + tokens).Matrix;
            var x = TestMatrix.Activations(tokens * cols, seed: 5);
            var expected = new float[tokens * 301];
            var actual = new float[tokens * 301];
            _reference.MatMul(w, x, expected, tokens);
            cpu.MatMul(w, x, actual, tokens);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"{type} cols {cols} element {i}: {actual[i]} vs {expected[i]}");
            }
        }
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F8E4M3)]
    [InlineData(DType.F32)]
    public void ARowsResultDoesNotDependOnTheBatchItIsIn(DType type)
    {
        // Decode (1-3 rows), tiles (4+) and token blocks (64+) must round identically, so that a prompt
        // gives the same logits whether it is run at once, in chunks, or token by token.
        using var cpu = new CpuBackend(2);
        const int outs = 300, cols = 512;
        var w = TestMatrix.Random(type, outs, cols, seed: 3).Matrix;
        var x = TestMatrix.Activations(70 * cols, seed: 4);
        var alone = new float[outs];
        foreach (int batch in new[] { 2, 3, 4, 7, 64, 70 })
        {
            var together = new float[batch * outs];
            cpu.MatMul(w, x.AsSpan(0, batch * cols), together, batch);
            for (int r = 0; r < batch; r++)
            {
                cpu.MatMul(w, x.AsSpan(r * cols, cols), alone, 1);
                Assert.True(alone.AsSpan().SequenceEqual(together.AsSpan(r * outs, outs)), $"{type}: row {r} of a batch of {batch} differs from the row alone");
            }
        }
    }
}
