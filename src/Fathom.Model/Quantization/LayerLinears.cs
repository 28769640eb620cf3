using Fathom.Core;

namespace Fathom.Model;

/// <summary>The linear projections of one decoder layer by checkpoint name, and the layer rebuilt with some replaced.</summary>
internal static class LayerLinears
{
    /// <summary>Every linear weight of the layer except the router, in a fixed order.</summary>
    public static List<(string Name, WeightMatrix Matrix)> Each(int l, LayerWeights w)
    {
        var list = new List<(string, WeightMatrix)>();
        Map(l, w, (name, m) =>
        {
            list.Add((name, m));
            return m;
        });
        return list;
    }

    /// <summary>The layer with every linear weight (not the router) replaced by <paramref name="map"/>(name, matrix).</summary>
    public static LayerWeights Map(int l, LayerWeights w, Func<string, WeightMatrix, WeightMatrix> map)
    {
        var a = w.Attention;
        var attention = a with
        {
            QA = a.QA is { } qa ? map(TensorNames.QA(l), qa) : null,
            QB = a.QB is { } qb ? map(TensorNames.QB(l), qb) : null,
            Q = a.Q is { } q ? map(TensorNames.Q(l), q) : null,
            KvA = map(TensorNames.KvA(l), a.KvA),
            KvB = map(TensorNames.KvB(l), a.KvB),
            O = map(TensorNames.O(l), a.O),
        };
        var dense = w.Dense is { } d ? FeedForward(d, part => TensorNames.Mlp(l, part), map) : null;
        MoeWeights? moe = null;
        if (w.Moe is { } m)
        {
            var experts = new FeedForwardWeights[m.Experts.Length];
            for (int e = 0; e < experts.Length; e++)
            {
                int expert = e;
                experts[e] = FeedForward(m.Experts[e], part => TensorNames.Expert(l, expert, part), map);
            }

            var shared = m.Shared is { } s ? FeedForward(s, part => TensorNames.SharedExpert(l, part), map) : null;
            moe = m with { Experts = experts, Shared = shared };
        }

        return w with { Attention = attention, Dense = dense, Moe = moe };
    }

    /// <summary>The (gate, up, down) names of every feed-forward network of the layer (dense, routed experts, shared).</summary>
    public static List<(string Gate, string Up, string Down)> FeedForwards(int l, LayerWeights w)
    {
        var list = new List<(string, string, string)>();
        if (w.Dense is not null)
        {
            list.Add((TensorNames.Mlp(l, TensorNames.Gate), TensorNames.Mlp(l, TensorNames.Up), TensorNames.Mlp(l, TensorNames.Down)));
        }

        if (w.Moe is { } m)
        {
            for (int e = 0; e < m.Experts.Length; e++)
            {
                list.Add((TensorNames.Expert(l, e, TensorNames.Gate), TensorNames.Expert(l, e, TensorNames.Up), TensorNames.Expert(l, e, TensorNames.Down)));
            }

            if (m.Shared is not null)
            {
                list.Add((TensorNames.SharedExpert(l, TensorNames.Gate), TensorNames.SharedExpert(l, TensorNames.Up), TensorNames.SharedExpert(l, TensorNames.Down)));
            }
        }

        return list;
    }

    private static FeedForwardWeights FeedForward(FeedForwardWeights f, Func<string, string> name, Func<string, WeightMatrix, WeightMatrix> map) =>
        new(map(name(TensorNames.Gate), f.Gate), map(name(TensorNames.Up), f.Up), map(name(TensorNames.Down), f.Down));
}
