using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.VqGan;

/// <summary>
/// One colour per code of a VQ-GAN's codebook, for previews: each revealed token of a canvas still being
/// generated is drawn in its code's colour, one pixel a token, with no decoding. A code is decoded in
/// context, a 2x2 block of it amid an 8x8 grid of random codes (alone, on a 1x1 grid, the decoder's group
/// norms see one code's statistics and the colours come out wrong), and its colour is the mean of its block's
/// pixels, clamped to [0, 1] and rounded to 8 bits.
/// </summary>
public static class CodePalette
{
    /// <summary>The colour of masked positions: mid grey.</summary>
    public const byte Masked = 128;

    private const int Grid = 8, Block = 2, Chunk = 32;

    /// <summary>(codebook size · 3) sRGB bytes, code by code. The same for a VQ-GAN whatever the device's threads
    /// (the background is drawn from a fixed seed).</summary>
    public static byte[] Of(VqAutoEncoder ae, Device? device = null)
    {
        var k = ae.quantize.CodebookSize;
        var f = ae.Downscale;
        var palette = new byte[k * 3];
        using var g = new Torch.Generator(0);
        using var background = randint(0, k, new long[] { 1, Grid, Grid }, g);
        const int at = (Grid - Block) / 2;
        for (long first = 0; first < k; first += Chunk)
        {
            using var scope = NewDisposeScope();
            var n = Math.Min(Chunk, k - first);
            var ids = background.repeat(n, 1, 1).contiguous();
            ids.narrow(1, at, Block).narrow(2, at, Block).copy_(arange(first, first + n, 1, int64).view(n, 1, 1).expand(n, Block, Block));
            var decoded = ae.decode(ids.to(device ?? Device.CPU));
            var colours = decoded.narrow(2, at * f, Block * f).narrow(3, at * f, Block * f).mean(new long[] { 2, 3 }).clamp(0, 1);
            var bytes = (colours * 255 + 0.5).floor().to(ScalarType.Byte).cpu().contiguous().ToArray<byte>();
            bytes.CopyTo(palette, first * 3);
        }
        return palette;
    }

    /// <summary>An H x W x 3 image of a token grid: each token its code's colour, masked positions (any id
    /// outside the codebook) grey.</summary>
    public static byte[] Draw(ReadOnlySpan<long> tokens, ReadOnlySpan<byte> palette)
    {
        var k = palette.Length / 3;
        var pixels = new byte[tokens.Length * 3];
        for (var i = 0; i < tokens.Length; i++)
        {
            var t = tokens[i];
            if (t >= 0 && t < k) palette.Slice((int)t * 3, 3).CopyTo(pixels.AsSpan(i * 3, 3));
            else pixels.AsSpan(i * 3, 3).Fill(Masked);
        }
        return pixels;
    }
}
