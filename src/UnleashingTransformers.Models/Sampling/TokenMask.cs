namespace UnleashingTransformers.Models.Sampling;

/// <summary>Which tokens of a grid an edit regenerates.</summary>
public static class TokenMask
{
    /// <summary>
    /// A pixel mask (row-major, <paramref name="height"/> x <paramref name="width"/>, true = regenerate) as a token
    /// mask by any overlap: a token is regenerated when any pixel of its <paramref name="factor"/> x
    /// <paramref name="factor"/> block is.
    /// </summary>
    public static bool[] FromPixels(ReadOnlySpan<bool> pixels, int height, int width, int factor)
    {
        if (pixels.Length != height * width) throw new ArgumentException($"mask has {pixels.Length} pixels, not {height}x{width}");
        if (height % factor != 0 || width % factor != 0) throw new ArgumentException($"mask is {width}x{height} px, not a multiple of the {factor}-pixel tokens");
        var (h, w) = (height / factor, width / factor);
        var tokens = new bool[h * w];
        for (var y = 0; y < height; y++)
        {
            var row = pixels.Slice(y * width, width);
            for (var x = 0; x < width; x++)
                if (row[x]) tokens[y / factor * w + x / factor] = true;
        }
        return tokens;
    }

    /// <summary>A copy of <paramref name="tokens"/> with the positions <paramref name="regenerate"/> marks set to the mask id.</summary>
    public static long[] Apply(ReadOnlySpan<long> tokens, ReadOnlySpan<bool> regenerate, long maskId)
    {
        if (tokens.Length != regenerate.Length) throw new ArgumentException("token mask does not match the grid");
        var result = tokens.ToArray();
        for (var i = 0; i < result.Length; i++)
            if (regenerate[i]) result[i] = maskId;
        return result;
    }
}
