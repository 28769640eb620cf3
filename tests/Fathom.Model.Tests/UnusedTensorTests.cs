using Fathom.Model;
using Xunit;

namespace Fathom.Model.Tests;

/// <summary>Tensors the config does not ask for (MTP layers of a model run without MTP) load fine and are reported.</summary>
public sealed class UnusedTensorTests
{
    [Fact]
    public void GoldenModelUsesEveryTensor()
    {
        using var golden = new GoldenCase("tiny-v3-fp8");
        using var model = LoadedModel.Load(golden.ModelDirectory);
        Assert.Empty(model.Weights.UnusedTensors);
    }

    [Fact]
    public void MtpLayerWithoutNextNPredictLayersIsReportedNotRejected()
    {
        using var copy = new ModelCopy("tiny-v3");
        // num_hidden_layers is 4, so layer 4 is the MTP module; num_nextn_predict_layers is 0.
        string[] mtp =
        [
            "model.layers.4.eh_proj.weight",
            "model.layers.4.enorm.weight",
            "model.layers.4.hnorm.weight",
            "model.layers.4.shared_head.norm.weight",
            "model.layers.4.input_layernorm.weight",
        ];
        copy.EditTensors(list =>
        {
            list.Add(SafeTensorsBuilder.Zeros(mtp[0], "BF16", 256, 512));
            foreach (string name in mtp[1..])
            {
                list.Add(SafeTensorsBuilder.Zeros(name, "BF16", 256));
            }
        });

        using var model = LoadedModel.Load(copy.Directory);
        Assert.Equal(0, model.Config.NumNextNPredictLayers);
        Assert.Empty(model.Weights.Mtp);
        Assert.Equal(mtp.Order(StringComparer.Ordinal), model.Weights.UnusedTensors);
    }
}
