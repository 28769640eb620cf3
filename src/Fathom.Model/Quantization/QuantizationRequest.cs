namespace Fathom.Model;

/// <summary>The weight format a checkpoint is quantized to.</summary>
public enum QuantFormat
{
    /// <summary>int8 per output channel with weight_scale (SGLang's w8a8_int8).</summary>
    Int8,

    /// <summary>4-bit groups in AWQ's packed layout (qweight / qzeros / scales).</summary>
    Int4,

    /// <summary>FP8 e4m3 with 128x128 weight_scale_inv blocks (DeepSeek's release layout).</summary>
    Fp8,
}

/// <summary>How the codes are chosen.</summary>
public enum QuantMethod
{
    /// <summary>Round to nearest, no calibration.</summary>
    Rtn,

    /// <summary>Activation-aware per-channel scaling searched on calibration data, then rounding.</summary>
    Awq,

    /// <summary>Hessian-based error compensation on calibration data.</summary>
    Gptq,
}

/// <summary>
/// One `fathom quantize` job. <see cref="Keep"/> lists module names (e.g. "q_b_proj") left in high precision;
/// any weight whose name contains one of them is kept (AWQ's modules_to_not_convert rule).
/// </summary>
public sealed record QuantizationRequest(string Source, string Output, QuantFormat Format, QuantMethod Method)
{
    public const int MinimumCalibrationTokens = 1024;

    public int GroupSize { get; init; } = 128;

    /// <summary>Calibration token ids (needed by AWQ and GPTQ).</summary>
    public IReadOnlyList<int>? CalibrationTokens { get; init; }

    /// <summary>Tokens per calibration sequence.</summary>
    public int SequenceLength { get; init; } = 256;

    /// <summary>At most this many calibration sequences are used.</summary>
    public int MaxSequences { get; init; } = 64;

    public IReadOnlyList<string> Keep { get; init; } = [];

    public bool NeedsCalibration => Method != QuantMethod.Rtn;

    public static string FormatName(QuantFormat format) => format switch
    {
        QuantFormat.Int8 => "int8",
        QuantFormat.Int4 => "int4",
        _ => "fp8",
    };
}

/// <summary>Where a quantization job is: a stage and layers done out of the total.</summary>
public readonly record struct QuantizationProgress(string Stage, int Done, int Total);

/// <summary>What a quantization job did.</summary>
public sealed record QuantizationReport(string Output, int QuantizedTensors, int KeptTensors, long Bytes, int CalibrationTokens, IReadOnlyList<string> Notes);
