using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>What a canvas needs to know of a prior without running it.</summary>
public sealed record PriorInfo(string Version, int GridHeight, int GridWidth, int WindowLength, int CodebookSize, int MaskId, Corruption Corruption = Corruption.Absorbing);

/// <summary>Loads model replicas of one prior file: each its own weights on the device.</summary>
public sealed class PriorReplicas(string path, int? heads, Device device, InferencePrecision precision)
{
    /// <summary>Reads the file once to learn its grid and codebook; the version is the file's hash.</summary>
    public PriorInfo Describe()
    {
        using var model = PriorCheckpoint.Load(path, heads);
        var (h, w) = model._denoise_fn.TokenGrid();
        return new PriorInfo(ModelVersion.OfFile(path), h, w, model.Config.BlockSize, model.Config.CodebookSize, model.Config.MaskId, model._denoise_fn.Corruption);
    }

    public ReplicaModel Load()
    {
        var model = PriorCheckpoint.Load(path, heads, device);
        var (denoiser, owned) = model.Denoiser(precision, device);
        return new ReplicaModel(denoiser, ModelVersion.OfFile(path), new Owned([.. owned is null ? [] : new[] { owned }, model]));
    }

    private sealed class Owned(params IDisposable[] parts) : IDisposable
    {
        public void Dispose()
        {
            foreach (var p in parts) p.Dispose();
        }
    }
}
