namespace Fathom.Model.Tests;

/// <summary>Per-position relative logit errors and top-1 agreement of one set of logits against another.</summary>
internal sealed class LogitComparison
{
    private readonly List<double> _errors = [];
    private int _agree;

    public int Positions => _errors.Count;

    public double Agreement => (double)_agree / Positions;

    public double Median => Quantile(0.5);

    public double Mean => _errors.Average();

    public double P90 => Quantile(0.9);

    public double Worst => Quantile(1);

    /// <summary>Adds every position of [n, vocab] logits: ||a − e|| / ||e|| and whether the argmax agrees.</summary>
    public void Add(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, int vocab)
    {
        for (int p = 0; p < expected.Length / vocab; p++)
        {
            var a = actual.Slice(p * vocab, vocab);
            var e = expected.Slice(p * vocab, vocab);
            double diff = 0, norm = 0;
            int bestA = 0, bestE = 0;
            for (int v = 0; v < vocab; v++)
            {
                diff += (a[v] - (double)e[v]) * (a[v] - (double)e[v]);
                norm += (double)e[v] * e[v];
                bestA = a[v] > a[bestA] ? v : bestA;
                bestE = e[v] > e[bestE] ? v : bestE;
            }

            _errors.Add(Math.Sqrt(diff / norm));
            _agree += bestA == bestE ? 1 : 0;
        }
    }

    public override string ToString() =>
        $"relative logit error median {Median:E2}, p90 {P90:E2}, worst {Worst:E2}; top-1 agreement {_agree}/{Positions} = {Agreement:P1}";

    private double Quantile(double q)
    {
        var sorted = _errors.Order().ToArray();
        return sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(q * sorted.Length))];
    }
}
