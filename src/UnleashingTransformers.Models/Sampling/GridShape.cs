using UnleashingTransformers.Models.Transformer;

namespace UnleashingTransformers.Models.Sampling;

/// <summary>Token grid shapes: "HxW" as flags give them, and the grid a prior's block is laid out on.</summary>
public static class GridShape
{
    /// <summary>The token grid of a prior: square unless given ("HxW"); it must hold the block size.</summary>
    public static (int h, int w) Of(TransformerConfig config, string? grid)
    {
        if (grid is null)
        {
            var side = (int)Math.Round(Math.Sqrt(config.BlockSize));
            if (side * side != config.BlockSize)
                throw new ArgumentException($"block size {config.BlockSize} is not square: give --grid HxW with H*W = {config.BlockSize}");
            return (side, side);
        }
        var (h, w) = Parse(grid, "--grid");
        if (h * w != config.BlockSize)
            throw new ArgumentException($"--grid {h}x{w} holds {h * w} tokens but the prior's block size is {config.BlockSize}");
        return (h, w);
    }

    /// <summary>The token grid of a prior's network: its own when it is bound to one (DiT, UViT; a --grid that
    /// differs is an error), else as above.</summary>
    public static (int h, int w) Of(Backbones.PriorNetwork network, string? grid)
    {
        if (network.Grid is not { } own) return Of(network.Config, grid);
        if (grid is not null && Parse(grid, "--grid") != own)
            throw new ArgumentException($"--grid {grid}: this {network.Backbone} prior was trained on a {own.Height}x{own.Width} grid; leave --grid out");
        return own;
    }

    /// <summary>"HxW" as given to <paramref name="flag"/>.</summary>
    public static (int h, int w) Parse(string text, string flag)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var h) || !int.TryParse(parts[1], out var w) || h < 1 || w < 1)
            throw new ArgumentException($"{flag} '{text}': expected HxW, e.g. 16x16");
        return (h, w);
    }
}
