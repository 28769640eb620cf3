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
    // FP8 block scales, int8 per-channel scales and AWQ's zero points and scales describe weights, they are not parameters.
    private static bool IsScale(string name) =>
        name.EndsWith(TensorNames.ScaleSuffix, StringComparison.Ordinal)
        || name.EndsWith(".weight" + IntegerWeightReader.WeightScaleSuffix, StringComparison.Ordinal)
        || name.EndsWith(".qzeros", StringComparison.Ordinal)
        || name.EndsWith(".scales", StringComparison.Ordinal);

    // An AWQ qweight int32 packs eight 4-bit weights.
    private static long Parameters(string name, TensorEntry entry) =>
        name.EndsWith(".qweight", StringComparison.Ordinal) ? entry.ElementCount * 8 : entry.ElementCount;

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
                if (!IsScale(name))
                {
                    mtp += Parameters(name, entry);
                }

                continue;
            }

            bytes += size;
            byType[entry.Type] = byType.GetValueOrDefault(entry.Type) + size;
            bool isScale = IsScale(name);
            bool isRouted = name.Contains(".mlp.experts.", StringComparison.Ordinal);
            if (isRouted)
            {
                routedBytes += size;
            }

            if (!isScale)
            {
                total += Parameters(name, entry);
                if (isRouted)
                {
                    routed += Parameters(name, entry);
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
