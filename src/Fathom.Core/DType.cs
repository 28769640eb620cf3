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
}

public static class DTypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this DType type) => type switch
    {
        DType.F64 or DType.I64 => 8,
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 or DType.I16 => 2,
        DType.F8E4M3 or DType.F8E5M2 or DType.I8 or DType.U8 or DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

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
        _ => type.ToString(),
    };
}
