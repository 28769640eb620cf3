using System.Runtime.InteropServices;
using Fathom.Core;

namespace Fathom.Model;

/// <summary>
/// Reads the integer linear-weight layouts of quantized checkpoints, checking every shape and dtype:
/// SGLang's w8a8_int8 (<c>X.weight</c> int8 [out, in] + <c>X.weight_scale</c> float [out, 1]) stays in the
/// mapped file; AWQ (<c>X.qweight</c> int32 [in, out/8], <c>X.qzeros</c> int32 [in/group, out/8],
/// <c>X.scales</c> f16 [in/group, out]) is repacked row-major into <see cref="DType.U4"/> so that each output
/// row's nibbles are contiguous for the kernels.
/// </summary>
internal static unsafe class IntegerWeightReader
{
    public const string WeightScaleSuffix = "_scale";

    /// <summary>"model.layers.0.mlp.down_proj.weight" → "model.layers.0.mlp.down_proj".</summary>
    public static string Stem(string weightName) =>
        weightName.EndsWith(".weight", StringComparison.Ordinal) ? weightName[..^".weight".Length] : weightName;

    public static bool IsAwq(Checkpoint checkpoint, string weightName) =>
        !checkpoint.Contains(weightName) && checkpoint.Contains(Stem(weightName) + ".qweight");

    /// <summary>An int8 weight and its per-channel scales.</summary>
    public static WeightMatrix Int8(Checkpoint checkpoint, TensorEntry weight, int rows, int cols, Action<string> use)
    {
        string scaleName = weight.Name + WeightScaleSuffix;
        var scale = checkpoint.Find(scaleName)
            ?? throw new ModelFormatException($"{weight.File.Path}: int8 tensor '{weight.Name}' has no per-channel scales '{scaleName}'");
        use(scaleName);
        bool perChannel = (scale.Shape.Length == 2 && scale.Shape[0] == rows && scale.Shape[1] == 1)
            || (scale.Shape.Length == 1 && scale.Shape[0] == rows);
        if (!perChannel)
        {
            throw new ModelFormatException(
                $"{scale.File.Path}: tensor '{scaleName}' has shape {scale.ShapeText} but the int8 weight [{rows}, {cols}] needs one scale per output channel: [{rows}, 1]");
        }

        var scales = Floats(scale);
        for (int i = 0; i < scales.Length; i++)
        {
            if (!float.IsFinite(scales[i]) || scales[i] < 0)
            {
                throw new ModelFormatException($"{scale.File.Path}: tensor '{scaleName}' holds an invalid scale {scales[i]} at channel {i}");
            }
        }

        return new WeightMatrix(DType.I8, weight.File.DataPointer(weight), rows, cols, cols, weight.File, scales, 1, cols);
    }

    /// <summary>An AWQ weight of a linear layer [rows = out, cols = in], repacked.</summary>
    public static WeightMatrix Awq(Checkpoint checkpoint, string weightName, int rows, int cols, int groupSize, Action<string> use)
    {
        string stem = Stem(weightName);
        var qweight = Find(checkpoint, stem + ".qweight", use);
        var qzeros = Find(checkpoint, stem + ".qzeros", use);
        var scales = Find(checkpoint, stem + ".scales", use);
        if (rows % 8 != 0)
        {
            throw new ModelFormatException($"{qweight.File.Path}: '{stem}' has {rows} outputs; AWQ packs eight per int32, so they must be a multiple of 8");
        }

        if (cols % groupSize != 0)
        {
            throw new ModelFormatException(
                $"{qweight.File.Path}: group size {groupSize} (quantization_config) does not divide the {cols} input features of '{stem}'");
        }

        int groups = cols / groupSize;
        Expect(qweight, DType.I32, [cols, rows / 8], $"[in = {cols}, out / 8 = {rows / 8}]");
        Expect(qzeros, DType.I32, [groups, rows / 8], $"[in / group = {groups}, out / 8 = {rows / 8}]");
        if (scales.Type is not (DType.F16 or DType.BF16 or DType.F32))
        {
            throw new ModelFormatException($"{scales.File.Path}: tensor '{scales.Name}' has dtype {scales.Type.ToSafeTensors()} (expected F16)");
        }

        if (scales.Shape.Length != 2 || scales.Shape[0] != groups || scales.Shape[1] != rows)
        {
            throw new ModelFormatException(
                $"{scales.File.Path}: tensor '{scales.Name}' has shape {scales.ShapeText} but [{rows}, {cols}] in groups of {groupSize} needs [{groups}, {rows}]");
        }

        var halfScales = Floats(scales).Select(v => (Half)v).ToArray();
        var nibbles = Int4Groups.AllocatePinned((long)rows * cols / 2);
        var rowScales = new float[rows * groups];
        var rowZeros = new float[rows * groups];
        AwqPacking.Unpack(
            MemoryMarshal.Cast<byte, int>(qweight.File.Bytes(qweight)),
            MemoryMarshal.Cast<byte, int>(qzeros.File.Bytes(qzeros)),
            halfScales,
            cols,
            rows,
            groupSize,
            nibbles,
            rowScales,
            rowZeros);
        for (int i = 0; i < rowScales.Length; i++)
        {
            if (!float.IsFinite(rowScales[i]))
            {
                throw new ModelFormatException($"{scales.File.Path}: tensor '{scales.Name}' holds a non-finite scale");
            }
        }

        return Int4Groups.Create(nibbles, rowScales, rowZeros, rows, cols, groupSize);
    }

    private static TensorEntry Find(Checkpoint checkpoint, string name, Action<string> use)
    {
        var entry = checkpoint.Find(name)
            ?? throw new ModelFormatException($"{checkpoint.Directory}: AWQ tensor '{name}' is missing (an AWQ layer needs qweight, qzeros and scales)");
        use(name);
        return entry;
    }

    private static void Expect(TensorEntry entry, DType type, int[] shape, string meaning)
    {
        if (entry.Type != type)
        {
            throw new ModelFormatException($"{entry.File.Path}: tensor '{entry.Name}' has dtype {entry.Type.ToSafeTensors()} (expected {type.ToSafeTensors()})");
        }

        if (!entry.Shape.SequenceEqual(shape))
        {
            throw new ModelFormatException($"{entry.File.Path}: tensor '{entry.Name}' has shape {entry.ShapeText} but config.json implies {meaning}");
        }
    }

    private static float[] Floats(TensorEntry entry)
    {
        var bytes = entry.File.Bytes(entry);
        var result = new float[entry.ElementCount];
        switch (entry.Type)
        {
            case DType.F32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(result);
                break;
            case DType.BF16:
                var bf = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = BFloat16.ToSingle(bf[i]);
                }

                break;
            case DType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (float)h[i];
                }

                break;
            default:
                throw new ModelFormatException($"{entry.File.Path}: tensor '{entry.Name}' has dtype {entry.Type.ToSafeTensors()} (expected F32, BF16 or F16)");
        }

        return result;
    }
}
