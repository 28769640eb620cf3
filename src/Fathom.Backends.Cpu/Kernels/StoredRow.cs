using System.Runtime.CompilerServices;
using Fathom.Backends.Cpu.Kernels.Lanes;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// How a weight row's stored elements become float lanes, for the kernels that widen in registers: the
/// kernels are written once over this and compiled per format (the implementations are structs).
/// </summary>
internal unsafe interface IStoredRow
{
    /// <summary>Bytes per stored element.</summary>
    static abstract int ElementBytes { get; }

    /// <summary>Elements [c, c + TLanes.Count) of the row starting at <paramref name="row"/>.</summary>
    static abstract TLanes Widen<TLanes>(byte* row, int c)
        where TLanes : struct, IFloatLanes<TLanes>;

    /// <summary>Element c alone (tails narrower than a register).</summary>
    static abstract float WidenOne(byte* row, int c);
}

/// <summary>BF16 as stored: exact.</summary>
internal readonly unsafe struct Bf16Row : IStoredRow
{
    public static int ElementBytes => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TLanes Widen<TLanes>(byte* row, int c)
        where TLanes : struct, IFloatLanes<TLanes> => TLanes.LoadBf16((ushort*)row + c);

    public static float WidenOne(byte* row, int c) => BFloat16.ToSingle(((ushort*)row)[c]);
}

/// <summary>FP8 e4m3 bytes as value · 2^-120, without their block scale (the activations carry it: <see cref="Fp8ScaledActivations"/>).</summary>
internal readonly unsafe struct Fp8RawRow : IStoredRow
{
    public static int ElementBytes => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TLanes Widen<TLanes>(byte* row, int c)
        where TLanes : struct, IFloatLanes<TLanes> => TLanes.LoadFp8(row + c);

    public static float WidenOne(byte* row, int c) => Float8E4M3.ToSingle(row[c]) / Fp8Lanes.TwoPow120;
}

/// <summary>Float32 rows (as stored, or widened into scratch).</summary>
internal readonly unsafe struct F32Row : IStoredRow
{
    public static int ElementBytes => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TLanes Widen<TLanes>(byte* row, int c)
        where TLanes : struct, IFloatLanes<TLanes> => TLanes.Load((float*)row + c);

    public static float WidenOne(byte* row, int c) => ((float*)row)[c];
}
