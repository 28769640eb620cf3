using Fathom.Core;
using Fathom.Core.Tests;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>
/// The dense kernel's paths (fused decode rows, 3x4 and 4x4 tiles, 3x8 and 6x4 with 512-bit lanes, leftover rows) on shapes that reach each of
/// them: matrices taller than one 128-row FP8 scale block, split into chunks that do not start on a
/// multiple of four, rows longer than one column chunk (and not a whole number of vectors), and batches
/// of every size up to a token block and past it.
/// </summary>
public sealed class DenseKernelPathTests
{
    private readonly ReferenceBackend _reference = new();

    public static TheoryData<DType, int, string> Shapes()
    {
        var data = new TheoryData<DType, int, string>();
        foreach (string path in FloatPaths.Supported)
        {
            foreach (int tokens in new[] { 1, 2, 3, 4, 5, 8, 9, 70 })
            {
                data.Add(DType.F8E4M3, tokens, path);
            }

            foreach (int tokens in new[] { 1, 3, 4, 6, 8, 70 })
            {
                data.Add(DType.BF16, tokens, path);
            }

            data.Add(DType.F32, 1, path);
            data.Add(DType.F32, 6, path);
        }

        return data;
    }

    public static TheoryData<DType, string> Formats()
    {
        var data = new TheoryData<DType, string>();
        foreach (string path in FloatPaths.Supported)
        {
            foreach (var type in new[] { DType.BF16, DType.F8E4M3, DType.F32 })
            {
                data.Add(type, path);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TallMatricesMatchTheReferenceAcrossScaleBlocks(DType type, int tokens, string path)
    {
        // 301 rows span three 128-row scale blocks; with 2 threads the pool's chunks start at 37, 74, …
        using var cpu = FloatPaths.Backend(2, path);
        foreach (int cols in new[] { 256, 384, 272, 264, 2112, 1100 })
        {
            var w = TestMatrix.Random(type, 301, cols, seed: cols + tokens).Matrix;
            var x = TestMatrix.Activations(tokens * cols, seed: 5);
            var expected = new float[tokens * 301];
            var actual = new float[tokens * 301];
            _reference.MatMul(w, x, expected, tokens);
            cpu.MatMul(w, x, actual, tokens);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"{type} ({path}) cols {cols} element {i}: {actual[i]} vs {expected[i]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void ARowsResultDoesNotDependOnTheBatchItIsIn(DType type, string path)
    {
        // Decode (1-3 rows), tiles (4+) and token blocks (64+) must round identically, so that a prompt
        // gives the same logits whether it is run at once, in chunks, or token by token.
        using var cpu = FloatPaths.Backend(2, path);
        const int outs = 300;
        foreach (int cols in new[] { 512, 264, 2112 })
        {
            var w = TestMatrix.Random(type, outs, cols, seed: 3).Matrix;
            var x = TestMatrix.Activations(70 * cols, seed: 4);
            var alone = new float[outs];
            foreach (int batch in new[] { 2, 3, 4, 5, 7, 8, 9, 64, 70 })
            {
                var together = new float[batch * outs];
                cpu.MatMul(w, x.AsSpan(0, batch * cols), together, batch);
                for (int r = 0; r < batch; r++)
                {
                    cpu.MatMul(w, x.AsSpan(r * cols, cols), alone, 1);
                    Assert.True(alone.AsSpan().SequenceEqual(together.AsSpan(r * outs, outs)), $"{type} ({path}) cols {cols}: row {r} of a batch of {batch} differs from the row alone");
                }
            }
        }
    }
}
