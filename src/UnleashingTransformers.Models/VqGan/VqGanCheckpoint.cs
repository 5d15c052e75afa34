using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Models.VqGan;

/// <summary>
/// Loading VQ-GANs from reference-format files (vqgan_*.th, ours or the paper's): the architecture is
/// read from the keys and shapes; <c>perceptual.*</c> (LPIPS) and, unless asked for, <c>disc.*</c>
/// are left out.
/// </summary>
public static class VqGanCheckpoint
{
    public static VqAutoEncoder Load(string path, Device? device = null)
    {
        var sd = torch.load_state_dict(path);
        try
        {
            return FromStateDict(sd, path, device);
        }
        finally
        {
            foreach (var t in sd.Values) t.Dispose();
        }
    }

    public static VqAutoEncoder FromStateDict(IReadOnlyDictionary<string, Tensor> sd, string source = "state dict", Device? device = null)
    {
        // Reference files hold the whole VQGAN ("ae.", "disc.", "perceptual."); accept a bare autoencoder too.
        var prefix = sd.Keys.Any(k => k.StartsWith("ae.encoder.")) ? "ae." : "";
        if (!sd.ContainsKey($"{prefix}quantize.embedding.weight") || !sd.ContainsKey($"{prefix}encoder.blocks.0.weight"))
        {
            var sample = string.Join(", ", sd.Keys.Take(4));
            throw new ArgumentException($"{source}: not a VQ-GAN checkpoint (no 'ae.encoder.*' / 'ae.quantize.embedding.weight'; found {sample}{(sd.Count > 4 ? ", ..." : "")})");
        }
        var enc = BlockLists.FromStateDict(sd, $"{prefix}encoder.blocks.", BlockKind.Down);
        var gen = BlockLists.FromStateDict(sd, $"{prefix}generator.blocks.", BlockKind.Up);
        if (gen.Count == 0) throw new ArgumentException($"{source}: VQ-GAN checkpoint without generator blocks");
        var codebook = sd[$"{prefix}quantize.embedding.weight"].size(0);
        var model = new VqAutoEncoder(enc, gen, codebook);
        var own = sd.Where(kv => kv.Key.StartsWith(prefix) && !kv.Key.StartsWith("disc.") && !kv.Key.StartsWith("perceptual."))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
        try
        {
            model.load_state_dict(own);
        }
        catch (TorchException e)
        {
            model.Dispose();
            throw new ArgumentException($"{source}: {e.Message}");
        }
        if (device is { } d) model.to(d);
        model.eval();
        return model;
    }
}
