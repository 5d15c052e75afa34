namespace UnleashingTransformers.Models.Sampling;

/// <summary>A rectangle of a token grid, half-open: rows [Top, Bottom), columns [Left, Right).</summary>
public readonly record struct TokenRegion(int Top, int Bottom, int Left, int Right)
{
    public int Cells => (Bottom - Top) * (Right - Left);

    /// <summary>Parses <c>R0:R1,C0:C1</c> and checks it lies inside an <paramref name="height"/> x
    /// <paramref name="width"/> grid; throws SettingException.</summary>
    public static TokenRegion Parse(string text, int height, int width)
    {
        var parts = text.Split(',');
        int[]? bounds = null;
        if (parts.Length == 2)
        {
            var ranges = parts.Select(p => p.Split(':')).ToArray();
            if (ranges.All(r => r.Length == 2))
            {
                var values = ranges.SelectMany(r => r).Select(v => int.TryParse(v.Trim(), out var x) ? x : (int?)null).ToArray();
                if (values.All(v => v is not null)) bounds = values.Select(v => v!.Value).ToArray();
            }
        }
        if (bounds is null) throw new SettingException(SettingNames.Region, $"{text}: expected R0:R1,C0:C1 (half-open token rows and columns, e.g. 4:12,0:8)");
        var region = new TokenRegion(bounds[0], bounds[1], bounds[2], bounds[3]);
        if (region.Top < 0 || region.Left < 0 || region.Bottom > height || region.Right > width || region.Top >= region.Bottom || region.Left >= region.Right)
            throw new SettingException(SettingNames.Region, $"{text}: must be a non-empty rectangle inside the {height}x{width} token grid (rows 0:{height}, columns 0:{width})");
        return region;
    }

    public bool Contains(int row, int col) => Top <= row && row < Bottom && Left <= col && col < Right;

    /// <summary>The region as a token mask of an <paramref name="height"/> x <paramref name="width"/> grid.</summary>
    public bool[] Mask(int height, int width)
    {
        var mask = new bool[height * width];
        for (var r = Top; r < Bottom; r++) mask.AsSpan(r * width + Left, Right - Left).Fill(true);
        return mask;
    }

    public override string ToString() => $"{Top}:{Bottom},{Left}:{Right}";
}
