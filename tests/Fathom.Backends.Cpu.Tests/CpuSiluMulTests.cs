using Xunit;

namespace Fathom.Backends.Cpu.Tests;

/// <summary>CpuBackend.SiluMul (y = silu(gate) ⊙ up) agrees with the reference, also with y aliasing an input.</summary>
public sealed class CpuSiluMulTests
{
    private const double Relative = 1e-6;
    private const double Absolute = 1e-37;

    [Fact]
    public void MatchesTheReference()
    {
        using var cpu = new CpuBackend(2);
        var reference = new ReferenceBackend();
        foreach (int n in VectorData.Lengths)
        {
            var (gate, up) = Inputs(n);
            var expected = new float[n];
            var actual = new float[n];
            reference.SiluMul(gate, up, expected);
            cpu.SiluMul(gate, up, actual);
            Tolerance.AssertRelative(expected, actual, Relative, Absolute, $"length {n}");
        }
    }

    [Fact]
    public void OutputMayBeTheGate()
    {
        using var cpu = new CpuBackend(2);
        var reference = new ReferenceBackend();
        foreach (int n in VectorData.Lengths)
        {
            var (gate, up) = Inputs(n);
            var expected = new float[n];
            reference.SiluMul(gate, up, expected);
            cpu.SiluMul(gate, up, gate);
            Tolerance.AssertRelative(expected, gate, Relative, Absolute, $"y = gate, length {n}");
        }
    }

    [Fact]
    public void OutputMayBeTheUpProjection()
    {
        using var cpu = new CpuBackend(2);
        var reference = new ReferenceBackend();
        foreach (int n in VectorData.Lengths)
        {
            var (gate, up) = Inputs(n);
            var expected = new float[n];
            reference.SiluMul(gate, up, expected);
            cpu.SiluMul(gate, up, up);
            Tolerance.AssertRelative(expected, up, Relative, Absolute, $"y = up, length {n}");
        }
    }

    [Fact]
    public void ExtremeGatesGiveZeroOrTheIdentity()
    {
        using var cpu = new CpuBackend(2);
        // Twelve values: a full 8-wide vector and a tail, so that both code paths see them.
        float[] gate = [-100, -20, 0, 20, 100, -0f, 1, -1, -100, 100, 88, -88];
        float[] up = [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 1, 1];
        var y = new float[gate.Length];
        cpu.SiluMul(gate, up, y);
        for (int i = 0; i < gate.Length; i++)
        {
            double g = gate[i], expected = g / (1 + Math.Exp(-g)) * up[i];
            Assert.True(float.IsFinite(y[i]), $"gate {g}: {y[i]}");
            Assert.True(Math.Abs(y[i] - expected) <= (Relative * Math.Abs(expected)) + Absolute, $"gate {g}: {y[i]} vs {expected}");
        }
    }

    private static (float[] Gate, float[] Up) Inputs(int n) =>
        (VectorData.Uniform(n, -12, 12, seed: n), VectorData.Uniform(n, -2, 2, seed: n + 1));
}
