using Fathom.Core;

namespace Fathom.Model;

/// <summary>Parameter and memory accounting of a loaded model, for `fathom info` and capacity planning.</summary>
public sealed record ModelSummary(
    long TotalParameters,
    long ActiveParameters,
    long RoutedExpertParameters,
    long MtpParameters,
    long WeightBytes,
    long ActiveWeightBytes,
    IReadOnlyDictionary<DType, long> BytesByType,
    long KvBytesPerToken,
    int DenseLayers,
    int MoeLayers)
{
    public static ModelSummary Compute(LoadedModel model)
    {
        var c = model.Config;
        long total = 0, routed = 0, mtp = 0, bytes = 0, routedBytes = 0;
        var byType = new SortedDictionary<DType, long>();
        foreach (var (name, entry) in model.Checkpoint.Tensors)
        {
            long size = entry.End - entry.Begin;
            if (TensorNames.LayerOf(name) >= c.NumHiddenLayers)
            {
                if (!name.EndsWith(TensorNames.ScaleSuffix, StringComparison.Ordinal))
                {
                    mtp += entry.ElementCount;
                }

                continue;
            }

            bytes += size;
            byType[entry.Type] = byType.GetValueOrDefault(entry.Type) + size;
            bool isScale = name.EndsWith(TensorNames.ScaleSuffix, StringComparison.Ordinal);
            bool isRouted = name.Contains(".mlp.experts.", StringComparison.Ordinal);
            if (isRouted)
            {
                routedBytes += size;
            }

            if (!isScale)
            {
                total += entry.ElementCount;
                if (isRouted)
                {
                    routed += entry.ElementCount;
                }
            }
        }

        double activeFraction = c.NRoutedExperts == 0 ? 0 : (double)c.NumExpertsPerTok / c.NRoutedExperts;
        int moeLayers = Enumerable.Range(0, c.NumHiddenLayers).Count(c.IsMoeLayer);
        // Only one embedding row is read per token; everything else that is active is read whole.
        long embedBytes = model.Weights.Embed.StorageBytes;
        long active = total - routed + (long)(routed * activeFraction);
        long activeBytes = bytes - routedBytes + (long)(routedBytes * activeFraction) - embedBytes + (embedBytes / Math.Max(1, c.VocabSize));
        return new ModelSummary(
            total,
            active,
            routed,
            mtp,
            bytes,
            activeBytes,
            byType,
            (long)c.KvCacheWidth * c.NumHiddenLayers * sizeof(float),
            c.NumHiddenLayers - moeLayers,
            moeLayers);
    }
}
