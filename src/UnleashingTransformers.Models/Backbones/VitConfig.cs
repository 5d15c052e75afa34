using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// The settings of a vision-transformer backbone (DiT, UViT) beyond the transformer's: the token grid it runs
/// on (its sequence is the grid's patches) and the patch side. Defaults: patch 1 (every token its own patch, as
/// the paper's prior); DiT's and UViT's own image models use 2.
/// </summary>
public sealed record VitConfig(TransformerConfig Transformer, int GridHeight, int GridWidth, int Patch = 1)
{
    public int Patches => GridHeight / Patch * (GridWidth / Patch);

    public void Validate()
    {
        Transformer.Validate();
        if (GridHeight * GridWidth != Transformer.BlockSize)
            throw new ArgumentException($"grid {GridHeight}x{GridWidth} does not hold the window's {Transformer.BlockSize} tokens");
        if (Patch < 1 || GridHeight % Patch != 0 || GridWidth % Patch != 0)
            throw new ArgumentException($"--patch {Patch} does not divide the grid {GridHeight}x{GridWidth}");
    }

    /// <summary>Token embeddings (B, H·W, E) in grid order to patch rows (B, patches, p·p·E).</summary>
    public Tensor Patchify(Tensor x)
    {
        var (B, E, p) = (x.size(0), x.size(2), (long)Patch);
        return x.view(B, GridHeight / p, p, GridWidth / p, p, E).permute(0, 1, 3, 2, 4, 5).reshape(B, Patches, p * p * E);
    }

    /// <summary>Per-patch outputs (B, patches, p·p·K) back to grid order (B, H·W, K).</summary>
    public Tensor Unpatchify(Tensor y)
    {
        var (B, p) = (y.size(0), (long)Patch);
        var K = y.size(2) / (p * p);
        return y.view(B, GridHeight / p, GridWidth / p, p, p, K).permute(0, 1, 3, 2, 4, 5).reshape(B, (long)GridHeight * GridWidth, K);
    }

    /// <summary>The time of an absorbing state on DiT's 0..1000 scale: the share of its tokens masked (the
    /// forward process masks each with probability t/T), read from the input, so that the denoiser keeps
    /// the prior's signature, ids to logits.</summary>
    public Tensor Time(Tensor idx) => idx.eq(Transformer.MaskId).to(float32).mean(1) * 1000;
}
