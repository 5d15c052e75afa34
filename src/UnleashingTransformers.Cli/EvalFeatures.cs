using System.Text.Json.Nodes;
using UnleashingTransformers.Models.Evaluation;
using UnleashingTransformers.Models.IO;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Cli;

/// <summary>
/// The feature-space figures of <c>ut eval --features</c>: FID, KID and precision/recall/density/coverage of the
/// generated crops against the real ones, in the space of the user's TorchScript network.
/// </summary>
internal sealed class EvalFeatures(string networkPath, FeatureInput input, int kidSubsets, int kidSubsetSize, int prdcK, string? saveDir)
{
    /// <summary>Flag checks, before any work.</summary>
    public void Check()
    {
        CommonOptions.RequireFile(networkPath, "--features");
        if (kidSubsets < 1 || kidSubsetSize < 2) throw new ArgumentException("--kid-subsets must be at least 1 and --kid-subset-size at least 2");
        if (prdcK < 1) throw new ArgumentException("--prdc-k must be at least 1");
    }

    public JsonObject Compare(Tensor realCrops, Tensor fakeCrops, ulong seed, Device device)
    {
        using var scope = NewDisposeScope();
        using var network = FeatureNetwork.Load(networkPath, input, device);
        var real = network.Features(realCrops);
        var fake = network.Features(fakeCrops);
        var fid = FrechetDistance.Compute(fake, real);
        var (kid, kidStd) = KernelDistance.Compute(fake, real, kidSubsets, kidSubsetSize, seed);
        var prdc = PrecisionRecall.Compute(real, fake, prdcK);
        if (saveDir is not null)
        {
            Directory.CreateDirectory(saveDir);
            NpyFile.Write(Path.Combine(saveDir, "real.npy"), real);
            NpyFile.Write(Path.Combine(saveDir, "fake.npy"), fake);
        }
        Console.WriteLine($"| features: {Path.GetFileName(networkPath)}, {real.size(1)} wide | FID {fid:F3} | KID x1e3 {1e3 * kid:F3} ± {1e3 * kidStd:F3} | " +
                          $"precision {prdc.Precision:F3} | recall {prdc.Recall:F3} | density {prdc.Density:F3} | coverage {prdc.Coverage:F3} |");
        return new JsonObject
        {
            ["network"] = networkPath,
            ["dims"] = real.size(1),
            ["real"] = real.size(0),
            ["generated"] = fake.size(0),
            ["fid"] = fid,
            ["kid"] = new JsonObject { ["mean"] = kid, ["std"] = kidStd, ["subsets"] = kidSubsets, ["subsetSize"] = kidSubsetSize },
            ["precision"] = prdc.Precision,
            ["recall"] = prdc.Recall,
            ["density"] = prdc.Density,
            ["coverage"] = prdc.Coverage,
            ["k"] = prdcK,
        };
    }
}
