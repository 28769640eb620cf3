using System.Globalization;

namespace Fathom.Cli;

/// <summary>The parsed --device value: the CPU, or CUDA device <see cref="Ordinal"/>.</summary>
public sealed record DeviceChoice(bool IsCuda, int Ordinal)
{
    public static readonly DeviceChoice Cpu = new(false, 0);

    public static DeviceChoice Parse(string text)
    {
        if (text == "cpu")
        {
            return Cpu;
        }

        if (text == "cuda")
        {
            return new DeviceChoice(true, 0);
        }

        if (text.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int ordinal))
        {
            return new DeviceChoice(true, ordinal);
        }

        throw new CliException($"--device must be cpu, cuda or cuda:N (got '{text}')");
    }

    public override string ToString() => IsCuda ? $"cuda:{Ordinal}" : "cpu";
}
