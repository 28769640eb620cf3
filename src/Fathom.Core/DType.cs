namespace Fathom.Core;

/// <summary>Element types found in checkpoints (the safetensors dtype vocabulary).</summary>
public enum DType
{
    F64,
    F32,
    F16,
    BF16,
    F8E4M3,
    F8E5M2,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,

    /// <summary>GGML Q8_0: blocks of 32 weights, an f16 scale then 32 int8 values (34 bytes).</summary>
    Q8_0,

    /// <summary>GGML Q4_K: super-blocks of 256 weights, f16 d and dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles (144 bytes).</summary>
    Q4K,

    /// <summary>
    /// Unsigned 4-bit integers, two per byte (low nibble = even column), dequantized as (q − zero) · scale
    /// with a scale and zero point per group of columns held by the matrix view (INT4 as AWQ/GPTQ store it).
    /// Not a safetensors dtype: AWQ's packed int32 tensors are repacked into it at load time.
    /// </summary>
    U4,
}

public static class DTypeInfo
{
    /// <summary>Bytes per element (not defined for block formats: see <see cref="BytesFor"/>).</summary>
    public static int Size(this DType type) => type switch
    {
        DType.F64 or DType.I64 => 8,
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 or DType.I16 => 2,
        DType.F8E4M3 or DType.F8E5M2 or DType.I8 or DType.U8 or DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "block formats have no per-element size"),
    };

    /// <summary>Weights per block: 1 for plain formats.</summary>
    public static int BlockElements(this DType type) => type switch
    {
        DType.Q8_0 => 32,
        DType.Q4K => 256,
        DType.U4 => 2,
        _ => 1,
    };

    /// <summary>Bytes per block (per element for plain formats).</summary>
    public static int BlockBytes(this DType type) => type switch
    {
        DType.Q8_0 => 34,
        DType.Q4K => 144,
        DType.U4 => 1,
        _ => type.Size(),
    };

    /// <summary>Whether the format is made of self-contained blocks (scales inside the data); packed U4 is not.</summary>
    public static bool IsBlockFormat(this DType type) => type.BlockElements() > 1 && type != DType.U4;

    /// <summary>Bytes that <paramref name="elements"/> consecutive weights occupy (a multiple of the block size for block formats).</summary>
    public static long BytesFor(this DType type, long elements)
    {
        int block = type.BlockElements();
        if (elements % block != 0)
        {
            throw new ArgumentException($"{elements} elements are not a whole number of {type} blocks of {block}", nameof(elements));
        }

        return elements / block * type.BlockBytes();
    }

    /// <summary>Parses a safetensors dtype string ("BF16", "F8_E4M3", ...); null when unknown.</summary>
    public static DType? FromSafeTensors(string name) => name switch
    {
        "F64" => DType.F64,
        "F32" => DType.F32,
        "F16" => DType.F16,
        "BF16" => DType.BF16,
        "F8_E4M3" => DType.F8E4M3,
        "F8_E5M2" => DType.F8E5M2,
        "I64" => DType.I64,
        "I32" => DType.I32,
        "I16" => DType.I16,
        "I8" => DType.I8,
        "U8" => DType.U8,
        "BOOL" => DType.Bool,
        _ => null,
    };

    /// <summary>The safetensors spelling of a dtype.</summary>
    public static string ToSafeTensors(this DType type) => type switch
    {
        DType.F8E4M3 => "F8_E4M3",
        DType.F8E5M2 => "F8_E5M2",
        DType.Bool => "BOOL",
        DType.Q8_0 => "Q8_0",
        DType.Q4K => "Q4_K",
        DType.U4 => "U4",
        _ => type.ToString(),
    };
}
