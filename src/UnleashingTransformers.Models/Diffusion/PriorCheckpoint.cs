using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Models.Diffusion;

/// <summary>Loading absorbing priors from reference-format files (absorbing_*.th, ours or the paper's).</summary>
public static class PriorCheckpoint
{
    public const string Prefix = "_denoise_fn.";

    /// <summary>
    /// Loads a prior, reading its architecture from the tensors' shapes; only the head count is given
    /// (the reference's is 8). A file that is not a prior, or does not fit, is one clear error.
    /// </summary>
    public static AbsorbingDiffusion Load(string path, int heads = 8, Device? device = null) =>
        Checkpoints.FromFile(path, sd => FromStateDict(sd, heads, device, path));

    public static AbsorbingDiffusion FromStateDict(IReadOnlyDictionary<string, Tensor> sd, int heads, Device? device = null, string source = "state dict")
    {
        var denoiser = sd.Where(kv => kv.Key.StartsWith(Prefix)).ToDictionary(kv => kv.Key[Prefix.Length..], kv => kv.Value);
        if (denoiser.Count == 0)
            throw new ArgumentException($"{source}: not an absorbing-diffusion prior (no '{Prefix}*' keys; {Checkpoints.Found(sd)})");
        TransformerConfig config;
        try
        {
            config = TransformerConfig.FromStateDict(denoiser, heads);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{source}: {e.Message}");
        }
        var timesteps = sd.TryGetValue("Lt_history", out var lt) ? (int)lt.size(0) - 1 : 256;
        return Checkpoints.Fill(new AbsorbingDiffusion(config, Math.Max(1, timesteps)), m => m.load_reference_state(sd), source, device);
    }

    /// <summary>The token grid of a prior: square unless given ("HxW"); it must hold the block size.</summary>
    public static (int h, int w) Grid(TransformerConfig config, string? grid)
    {
        if (grid is null)
        {
            var side = (int)Math.Round(Math.Sqrt(config.BlockSize));
            if (side * side != config.BlockSize)
                throw new ArgumentException($"block size {config.BlockSize} is not square: give --grid HxW with H*W = {config.BlockSize}");
            return (side, side);
        }
        var (h, w) = ParseGrid(grid, "--grid");
        if (h * w != config.BlockSize)
            throw new ArgumentException($"--grid {h}x{w} holds {h * w} tokens but the prior's block size is {config.BlockSize}");
        return (h, w);
    }

    public static (int h, int w) ParseGrid(string text, string flag)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var h) || !int.TryParse(parts[1], out var w) || h < 1 || w < 1)
            throw new ArgumentException($"{flag} '{text}': expected HxW, e.g. 16x16");
        return (h, w);
    }
}
