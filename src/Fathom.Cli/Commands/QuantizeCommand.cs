using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Fathom.Backends.Cpu;
using Fathom.Model;

namespace Fathom.Cli.Commands;

/// <summary>
/// `fathom quantize`: writes an INT8 (w8a8_int8), INT4 (AWQ layout) or FP8 (128x128 blocks) copy of a
/// checkpoint, by rounding to nearest or with AWQ / GPTQ calibration on a text.
/// </summary>
public static class QuantizeCommand
{
    /// <summary>The calibration text a model folder may carry, used when --calibration is not given.</summary>
    public const string CalibrationFileName = "calibration.txt";

    public static Command Create(CliConsole console)
    {
        var model = new Option<string?>("--model", "-m") { Description = $"Model folder to quantize. Default: the bundled {ModelLocator.BundledModel}." };
        var output = new Option<string>("--out", "-o") { Description = "New folder for the quantized checkpoint (must not exist).", Required = true };
        var format = new Option<string>("--format") { Description = "int8 (per-channel, w8a8_int8 layout), int4 (AWQ layout) or fp8 (e4m3, 128x128 blocks).", Required = true };
        var method = new Option<string>("--method") { Description = "rtn (round to nearest), awq (activation-aware scaling) or gptq (Hessian error compensation).", DefaultValueFactory = _ => "rtn" };
        var calibration = new Option<string?>("--calibration") { Description = $"UTF-8 calibration text for awq/gptq (default: the model folder's {CalibrationFileName})." };
        var groupSize = new Option<int>("--group-size") { Description = "INT4 columns per scale and zero point.", DefaultValueFactory = _ => 128 };
        var keep = new Option<string[]>("--keep") { Description = "Module names to keep in high precision, e.g. q_b_proj (repeatable; AWQ's modules_to_not_convert).", AllowMultipleArgumentsPerToken = true };
        var sequences = new Option<int>("--calibration-sequences") { Description = "At most this many 256-token calibration sequences.", DefaultValueFactory = _ => 64 };
        var threads = new Option<int>("--threads", "-t") { Description = "Worker threads (default: all cores).", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON line." };
        var command = new Command("quantize", "Write a quantized copy of a checkpoint (INT8, INT4 AWQ layout, FP8), optionally calibrated.")
        {
            model, output, format, method, calibration, groupSize, keep, sequences, threads, json,
        };
        command.SetAction(result =>
        {
            var target = result.GetValue(format) switch
            {
                "int8" => QuantFormat.Int8,
                "int4" => QuantFormat.Int4,
                "fp8" => QuantFormat.Fp8,
                var other => throw new CliException($"--format must be int8, int4 or fp8 (got '{other}')"),
            };
            var how = result.GetValue(method) switch
            {
                "rtn" => QuantMethod.Rtn,
                "awq" => QuantMethod.Awq,
                "gptq" => QuantMethod.Gptq,
                var other => throw new CliException($"--method must be rtn, awq or gptq (got '{other}')"),
            };
            string directory = ModelLocator.ResolveModel(result.GetValue(model));
            var request = new QuantizationRequest(directory, result.GetValue(output)!, target, how)
            {
                GroupSize = result.GetValue(groupSize),
                Keep = result.GetValue(keep) ?? [],
                MaxSequences = Math.Max(1, result.GetValue(sequences)),
            };
            CheckpointQuantizer.Validate(request);
            if (request.NeedsCalibration)
            {
                string path = result.GetValue(calibration) ?? Path.Combine(directory, CalibrationFileName);
                if (!File.Exists(path))
                {
                    throw new CliException(result.GetValue(calibration) is null
                        ? $"--method {result.GetValue(method)} needs calibration text: pass --calibration FILE ({directory} has no {CalibrationFileName})"
                        : $"--calibration: file '{path}' not found");
                }

                var tokenizer = ModelLocator.RequireTokenizer(ModelLocator.LoadTokenizer(null, directory), directory, "");
                request = request with { CalibrationTokens = tokenizer.Encode(File.ReadAllText(path), addSpecialTokens: false) };
            }

            using var backend = new CpuBackend(result.GetValue(threads));
            var bar = new ProgressLine(console);
            var report = CheckpointQuantizer.Run(request, backend, new SynchronousProgress<QuantizationProgress>(p => bar.Show(p.Stage, p.Done, p.Total)));
            bar.End();
            string name = $"{QuantizationRequest.FormatName(target)} {result.GetValue(method)}";
            if (result.GetValue(json))
            {
                console.Out.WriteLine(JsonSerializer.Serialize(
                    new { output = report.Output, format = QuantizationRequest.FormatName(target), method = result.GetValue(method), group_size = request.GroupSize, quantized_tensors = report.QuantizedTensors, kept_tensors = report.KeptTensors, bytes = report.Bytes, calibration_tokens = report.CalibrationTokens },
                    CliJson.Options));
            }
            else
            {
                console.Out.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{name}: {report.QuantizedTensors} weights quantized, {report.KeptTensors} kept in high precision, {report.Bytes / 1048576.0:F1} MiB of weights, {report.CalibrationTokens} calibration tokens → {report.Output}"));
                foreach (var note in report.Notes)
                {
                    console.Error.WriteLine($"note: {note}");
                }
            }

            return 0;
        });
        return command;
    }
}
