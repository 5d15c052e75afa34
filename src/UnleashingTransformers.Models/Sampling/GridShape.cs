namespace UnleashingTransformers.Models.Sampling;

/// <summary>Token grid shapes: "HxW" as settings give them, and the grid a prior's block is laid out on.</summary>
public static class GridShape
{
    /// <summary>The token grid of a prior's <paramref name="blockSize"/> tokens: square unless given ("HxW"); it must hold them.</summary>
    public static (int h, int w) Of(int blockSize, string? grid)
    {
        if (grid is null)
        {
            var side = (int)Math.Round(Math.Sqrt(blockSize));
            if (side * side != blockSize)
                throw new SettingException(SettingNames.Grid, $"is needed: the block size {blockSize} is not square: give HxW with H*W = {blockSize}");
            return (side, side);
        }
        var (h, w) = Parse(grid, SettingNames.Grid);
        if (h * w != blockSize)
            throw new SettingException(SettingNames.Grid, $"{h}x{w} holds {h * w} tokens but the prior's block size is {blockSize}");
        return (h, w);
    }

    /// <summary>"HxW" as given to <paramref name="setting"/> (one of <see cref="SettingNames"/>, or a caller's own name: ut's --shape).</summary>
    public static (int h, int w) Parse(string text, string setting)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var h) || !int.TryParse(parts[1], out var w) || h < 1 || w < 1)
            throw new SettingException(setting, $"'{text}': expected HxW, e.g. 16x16");
        return (h, w);
    }
}
