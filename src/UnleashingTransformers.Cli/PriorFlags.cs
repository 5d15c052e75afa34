using System.CommandLine;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Cli;

/// <summary>The flags of a command that samples a canvas in this process (<c>ut generate</c>, <c>ut inpaint</c>):
/// the prior and how many replicas of it serve the windows.</summary>
internal sealed class PriorFlags
{
    public readonly Option<string> Prior = new("--prior") { Description = $"prior checkpoint (absorbing_*.th; {BundledModels.DescribePrior})", DefaultValueFactory = _ => BundledModels.Prior };
    public readonly Option<int?> Heads = CommonOptions.PriorHeads();
    public readonly Option<int> Replicas = new("--replicas") { DefaultValueFactory = _ => 1, Description = "model replicas serving window passes" };
    public readonly Option<int> Batch = new("--batch") { DefaultValueFactory = _ => 8, Description = "max windows per replica pass" };
    public readonly Option<InferencePrecision> Precision = new("--precision") { DefaultValueFactory = _ => InferencePrecision.Float32 };

    public void AddTo(Command c)
    {
        foreach (Option o in new Option[] { Prior, Heads, Replicas, Batch, Precision }) c.Options.Add(o);
    }

    /// <summary>The prior the flags name (with <paramref name="vqgan"/>, the VQ-GAN beside it).</summary>
    public ModelEntry Entry(ParseResult r, string vqgan = "") => new("", r.GetValue(Prior)!, vqgan, r.GetValue(Heads), r.GetValue(Precision));

    /// <summary>Checks the flags (before any work) and returns the canvas runner and the replicas of the prior
    /// (<paramref name="model"/>'s, else the flags').</summary>
    public (CanvasRun run, PriorReplicas models) Open(ParseResult r, CommonOptions common, Device device, ModelEntry? model = null)
    {
        model ??= Entry(r);
        CommonOptions.RequireFile(model.Prior, model.Name.Length > 0 ? $"model {model.Name}'s prior" : "--prior");
        var run = new CanvasRun(device, r.GetValue(Replicas), r.GetValue(Batch), r.GetValue(common.Threads));
        if (Bf16Support.Warning(model.Precision, device) is { } slow) Console.Error.WriteLine($"ut: {slow}");
        return (run, new PriorReplicas(model.Prior, model.Heads, device, model.Precision));
    }
}
