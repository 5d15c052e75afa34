using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Models.VqGan;

/// <summary>
/// Loading VQ-GANs from reference-format files (vqgan_*.th, ours or the paper's): the architecture is
/// read from the keys and shapes; <c>perceptual.*</c> (LPIPS) and, unless asked for, <c>disc.*</c>
/// are left out.
/// </summary>
public static class VqGanCheckpoint
{
    public static VqAutoEncoder Load(string path, Device? device = null) =>
        Checkpoints.FromFile(path, sd => FromStateDict(sd, path, device));

    public static VqAutoEncoder FromStateDict(IReadOnlyDictionary<string, Tensor> sd, string source = "state dict", Device? device = null)
    {
        // Reference files hold the whole VQGAN ("ae.", "disc.", "perceptual."); accept a bare autoencoder too.
        var prefix = sd.Keys.Any(k => k.StartsWith("ae.encoder.")) ? "ae." : "";
        if (!sd.ContainsKey($"{prefix}quantize.embedding.weight") || !sd.ContainsKey($"{prefix}encoder.blocks.0.weight"))
            throw new ArgumentException($"{source}: not a VQ-GAN checkpoint (no 'ae.encoder.*' / 'ae.quantize.embedding.weight'; {Checkpoints.Found(sd)})");
        var enc = BlockLists.FromStateDict(sd, $"{prefix}encoder.blocks.", BlockKind.Down);
        var gen = BlockLists.FromStateDict(sd, $"{prefix}generator.blocks.", BlockKind.Up);
        if (gen.Count == 0) throw new ArgumentException($"{source}: VQ-GAN checkpoint without generator blocks");
        var codebook = sd[$"{prefix}quantize.embedding.weight"].size(0);
        var own = sd.Where(kv => kv.Key.StartsWith(prefix) && !kv.Key.StartsWith("disc.") && !kv.Key.StartsWith("perceptual."))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
        return Checkpoints.Fill(new VqAutoEncoder(enc, gen, codebook), m => m.load_state_dict(own), source, device);
    }
}
