namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// How many activation rows a quantized kernel's inner loop serves per weight block load (1–4). A type
/// parameter rather than an argument, so that the JIT compiles each count with its unused accumulators and
/// branches removed.
/// </summary>
internal interface IQuantizedRowTile
{
    static abstract int Count { get; }
}

internal readonly struct OneRow : IQuantizedRowTile
{
    public static int Count => 1;
}

internal readonly struct TwoRows : IQuantizedRowTile
{
    public static int Count => 2;
}

internal readonly struct ThreeRows : IQuantizedRowTile
{
    public static int Count => 3;
}

internal readonly struct FourRows : IQuantizedRowTile
{
    public static int Count => 4;
}
