namespace Fathom.Model;

/// <summary>The integer weight layouts a checkpoint's quantization_config can name.</summary>
public enum IntegerQuantMethod
{
    /// <summary>
    /// SGLang's "w8a8_int8": each linear weight is int8 [out, in] with a float32 "weight_scale" [out, 1]
    /// (symmetric, per output channel). Activations stay float32 here.
    /// </summary>
    W8A8Int8,

    /// <summary>AutoAWQ's "awq" (version "gemm"): qweight / qzeros / scales, 4 bits, grouped along the inputs.</summary>
    Awq,
}

/// <summary>
/// An integer-quantized checkpoint (quantization_config with quant_method "w8a8_int8" or "awq"). Modules
/// listed in <see cref="ModulesNotConverted"/> (AWQ's modules_to_not_convert) keep their float weights.
/// </summary>
public sealed record IntegerQuantization(IntegerQuantMethod Method, int Bits, int GroupSize, IReadOnlyList<string> ModulesNotConverted)
{
    /// <summary>The quant_method string as config.json spells it.</summary>
    public string MethodName => Method == IntegerQuantMethod.Awq ? "awq" : "w8a8_int8";
}
