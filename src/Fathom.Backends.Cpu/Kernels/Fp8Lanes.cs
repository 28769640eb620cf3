namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Constants of the exact e4m3fn → float32 widening the dense kernels share (<see cref="Lanes.IFloatLanes{TSelf}.LoadFp8"/>).
/// The byte's exponent and mantissa bits placed at float32 bits 20-26 (and its sign at 31) make a float32
/// equal to the value times 2^-120 — subnormals become float32 subnormals — so multiplying by
/// scale · 2^120 finishes the conversion and applies the block scale in one step.
/// </summary>
internal static class Fp8Lanes
{
    public const float TwoPow120 = 1.329228e36f;

    /// <summary>After a sign-extended byte is shifted left by 20: keeps the sign (bit 31) and bits 20-26.</summary>
    public const int SignExponentMantissa = unchecked((int)0x87F00000);
}
