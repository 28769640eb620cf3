namespace Fathom.Backends.Cpu.Kernels.Lanes;

/// <summary>
/// One SIMD register of float32 lanes, as the dense kernels use it. The kernels are written once against
/// this contract and instantiated per instruction set (<see cref="Lanes512"/>, <see cref="Lanes256"/>,
/// <see cref="Lanes128"/>); each instantiation is a struct, so the JIT compiles a separate, fully inlined
/// copy of the kernel for it.
/// </summary>
internal unsafe interface IFloatLanes<TSelf>
    where TSelf : struct, IFloatLanes<TSelf>
{
    /// <summary>Float32 lanes in one register.</summary>
    static abstract int Count { get; }

    static abstract bool IsSupported { get; }

    static abstract TSelf Load(float* p);

    static abstract void Store(TSelf value, float* p);

    static abstract TSelf Create(float value);

    /// <summary>a · b + c, rounded once where the hardware fuses it.</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);

    static abstract TSelf Multiply(TSelf a, TSelf b);

    /// <summary>The lanes' sum, in a fixed order.</summary>
    static abstract float Sum(TSelf value);

    /// <summary>
    /// The sums of 16 registers stored at <paramref name="acc"/> ([row r][column i], 4 x 4), each exactly
    /// <see cref="Sum"/>: y_r[i] = Sum(acc[4r + i]). A 4x4 tile's finish; instruction sets with wide
    /// shuffles reduce the 16 registers together.
    /// </summary>
    static virtual void Sum16(float* acc, float* y0, float* y1, float* y2, float* y3)
    {
        int n = TSelf.Count;
        for (int i = 0; i < 4; i++)
        {
            y0[i] = TSelf.Sum(TSelf.Load(acc + (i * n)));
            y1[i] = TSelf.Sum(TSelf.Load(acc + ((4 + i) * n)));
            y2[i] = TSelf.Sum(TSelf.Load(acc + ((8 + i) * n)));
            y3[i] = TSelf.Sum(TSelf.Load(acc + ((12 + i) * n)));
        }
    }

    /// <summary><see cref="Count"/> bfloat16 values widened to float32 (exact).</summary>
    static abstract TSelf LoadBf16(ushort* p);

    /// <summary>
    /// <see cref="Count"/> e4m3 bytes as float32 values times 2^-120, exactly: the byte's exponent and
    /// mantissa bits placed at float32 bits 20-26 and its sign at bit 31, so subnormals stay exact too.
    /// Multiplying by scale · 2^120 finishes the conversion and applies the block scale in one step.
    /// </summary>
    static abstract TSelf LoadFp8(byte* p);

    /// <summary><see cref="Count"/> signed bytes as float32 values (exact): Q8_0 levels.</summary>
    static abstract TSelf LoadInt8(byte* p);

    /// <summary>
    /// The low (or, with <paramref name="high"/>, the high) nibbles of <see cref="Count"/> bytes as float32
    /// values 0-15: Q4_K levels.
    /// </summary>
    static abstract TSelf LoadNibbles(byte* p, bool high);

    /// <summary>Starts fetching the cache line at <paramref name="p"/> into L1 (a no-op where there is no instruction for it).</summary>
    static abstract void Prefetch(void* p);
}
