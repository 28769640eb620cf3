using Fathom.Core;
using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>Both backends, the oracle included, on small examples worked out by hand.</summary>
public sealed class HandComputedOpTests
{
    public static TheoryData<string> Backends => new("reference", "cpu");

    [Theory]
    [MemberData(nameof(Backends))]
    public void MatMulMultipliesByTheTransposedWeight(string name)
    {
        using var scope = Create(name, out var backend);
        var w = Matrix([1, 2, 3, 4, 5, 6], 2, 3);
        var y = new float[4];
        backend.MatMul(w, [1, 0, -1, 2, 1, 0], y, 2);
        Assert.Equal([-2f, -2f, 4f, 13f], y);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void MatMulTransposedMultipliesByTheWeight(string name)
    {
        using var scope = Create(name, out var backend);
        var w = Matrix([1, 2, 3, 4, 5, 6], 2, 3);
        var y = new float[6];
        backend.MatMulTransposed(w, [1, 2, 0, -1], y, 2);
        Assert.Equal([9f, 12f, 15f, -4f, -5f, -6f], y);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void EmbeddingPicksRows(string name)
    {
        using var scope = Create(name, out var backend);
        var w = Matrix([1, 2, 3, 4, 5, 6], 3, 2);
        var y = new float[6];
        backend.Embedding(w, [2, 0, 2], y);
        Assert.Equal([5f, 6f, 1f, 2f, 5f, 6f], y);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void RmsNormDividesByTheRootMeanSquareAndScales(string name)
    {
        using var scope = Create(name, out var backend);
        var y = new float[4];
        // Rows (3, 4) and (1, 1): root mean squares sqrt(12.5) and 1.
        backend.RmsNorm([3, 4, 1, 1], [1, 2], 0f, y);
        Assert.Equal(3 / Math.Sqrt(12.5), y[0], 1e-6);
        Assert.Equal(8 / Math.Sqrt(12.5), y[1], 1e-6);
        Assert.Equal(1.0, y[2], 1e-6);
        Assert.Equal(2.0, y[3], 1e-6);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void SiluMulGatesTheUpProjection(string name)
    {
        using var scope = Create(name, out var backend);
        var y = new float[3];
        backend.SiluMul([0, 1, -2], [5, 2, 3], y);
        Assert.Equal(0.0, y[0], 1e-7);
        Assert.Equal(2 / (1 + Math.Exp(-1)), y[1], 1e-6);
        Assert.Equal(3 * -2 / (1 + Math.Exp(2)), y[2], 1e-6);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ScaleAddAccumulates(string name)
    {
        using var scope = Create(name, out var backend);
        float[] y = [1, 2];
        backend.ScaleAdd([3, 4], 2, y);
        Assert.Equal([7f, 10f], y);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void SoftmaxNormalisesExponentials(string name)
    {
        using var scope = Create(name, out var backend);
        float[] x = [0, MathF.Log(3), float.NegativeInfinity];
        backend.Softmax(x);
        Assert.Equal(0.25, x[0], 1e-6);
        Assert.Equal(0.75, x[1], 1e-6);
        Assert.Equal(0f, x[2]);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void RopeRotatesInterleavedPairs(string name)
    {
        using var scope = Create(name, out var backend);
        float[] x = [1, 2, 1, 0];
        backend.RopeInterleaved(x, [0.6f, 0], [0.8f, 1]);
        Assert.Equal(-1.0, x[0], 1e-6);
        Assert.Equal(2.0, x[1], 1e-6);
        Assert.Equal(0.0, x[2], 1e-6);
        Assert.Equal(1.0, x[3], 1e-6);
    }

    private static WeightMatrix Matrix(float[] values, int rows, int cols)
    {
        var data = PinnedBuffer.Allocate(values.Length);
        values.CopyTo(data, 0);
        return WeightMatrix.FromPinned(data, rows, cols);
    }

    private static IDisposable? Create(string name, out IBackend backend)
    {
        if (name == "cpu")
        {
            var cpu = new CpuBackend(2);
            backend = cpu;
            return cpu;
        }

        backend = new ReferenceBackend();
        return null;
    }
}
