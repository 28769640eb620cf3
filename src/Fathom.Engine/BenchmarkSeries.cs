namespace Fathom.Engine;

/// <summary>Repeated measurements of one quantity, summarised as llama-bench and STREAM do.</summary>
public sealed record BenchmarkSeries(IReadOnlyList<double> Values)
{
    public double Median
    {
        get
        {
            var sorted = Values.Order().ToArray();
            int n = sorted.Length;
            return n == 0 ? double.NaN : n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
        }
    }

    public double Min => Values.Count == 0 ? double.NaN : Values.Min();

    public double Max => Values.Count == 0 ? double.NaN : Values.Max();
}
