using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>The replicas one canvas job works with, on one device class: its window passes, and the decode of
/// its finished canvas by the window silos' VQ-GAN.</summary>
public interface IJobReplicas
{
    /// <summary>Window passes on the job's weights.</summary>
    IWindowPool Pool { get; }

    /// <summary>The VQ-GAN the replicas decode with.</summary>
    Task<DecoderInfo> DecoderAsync(CancellationToken cancel);

    /// <summary>Each tile's pixels, float (3, TileHeight·f, TileWidth·f), in the tiling's order, decoded with the
    /// VQ-GAN of version <paramref name="vqgan"/>.</summary>
    IAsyncEnumerable<Tensor> DecodeAsync(DecodeTiling tiling, long[] tokens, string vqgan, CancellationToken cancel);
}
