using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
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
            throw new SettingException(SettingNames.Patch, $"{Patch} does not divide the grid {GridHeight}x{GridWidth}");
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

    /// <summary>A DiT's or UViT's settings from its keys: width and codebook from the token embedding, patch from the
    /// patch embedding's width, depth by counting blocks; the grid is recorded, or a square.</summary>
    internal static VitConfig FromStateDict(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry, bool uvit)
    {
        var model = uvit ? "uvit" : "dit";
        Tensor Need(string key) => sd.TryGetValue(key, out var t) ? t : throw new ArgumentException($"not a {model} prior: key '{key}' missing");
        var tok = Need("tok_emb.weight").shape;
        var patches = (int)Need("pos_emb").shape[1] - (uvit ? 1 : 0);   // UViT's time token
        var patchArea = (int)(Need("x_embedder.weight").shape[1] / tok[1]);
        var patch = (int)Math.Round(Math.Sqrt(patchArea));
        var layers = 0;
        if (!uvit)
            while (sd.ContainsKey($"blocks.{layers}.adaLN_modulation.1.weight")) layers++;
        else
            while (sd.ContainsKey($"in_blocks.{layers / 2}.ln1.weight")) layers += 2;   // as many out blocks, and the middle one
        var tokens = patches * patchArea;
        var side = (int)Math.Round(Math.Sqrt(tokens));
        var (h, w) = PriorNetworks.RecordedGrid(entry) ?? (side, side);
        var config = new TransformerConfig(CodebookSize: (int)tok[0] - 1, Emb: (int)tok[1], Heads: heads, Layers: layers, BlockSize: tokens,
            MlpHidden: (int)Need(uvit ? "mid_block.mlp.0.weight" : "blocks.0.mlp.0.weight").shape[0]);
        return new VitConfig(config, h, w, patch);
    }
}
