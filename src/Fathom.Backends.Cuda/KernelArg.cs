namespace Fathom.Backends.Cuda;

/// <summary>
/// One kernel parameter: its bytes in an 8-byte slot (the driver copies as many as the parameter's type
/// takes, from the slot's start: little-endian ints and floats sit there).
/// </summary>
internal readonly struct KernelArg
{
    public readonly ulong Bits;

    private KernelArg(ulong bits) => Bits = bits;

    public static implicit operator KernelArg(int value) => new((uint)value);

    public static implicit operator KernelArg(long value) => new((ulong)value);

    public static implicit operator KernelArg(ulong pointer) => new(pointer);

    public static implicit operator KernelArg(float value) => new(BitConverter.SingleToUInt32Bits(value));

    public static implicit operator KernelArg(bool value) => new(value ? 1u : 0u);
}
