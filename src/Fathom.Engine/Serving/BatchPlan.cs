namespace Fathom.Engine.Serving;

/// <summary>One step's work: which sequences run and how many of their pending tokens each. Reused step to step.</summary>
internal sealed class BatchPlan
{
    private readonly List<Sequence> _sequences = [];
    private readonly List<int> _tokens = [];

    public int Count => _sequences.Count;

    public int TotalTokens { get; private set; }

    /// <summary>Sequences that cannot grow even with the whole pool to themselves: they end with finish reason length.</summary>
    public List<Sequence> Exhausted { get; } = [];

    public Sequence Sequence(int i) => _sequences[i];

    public int Tokens(int i) => _tokens[i];

    public void Add(Sequence sequence, int tokens)
    {
        _sequences.Add(sequence);
        _tokens.Add(tokens);
        TotalTokens += tokens;
    }

    public void Clear()
    {
        _sequences.Clear();
        _tokens.Clear();
        Exhausted.Clear();
        TotalTokens = 0;
    }
}
