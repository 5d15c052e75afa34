using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Grid.Canvas;

/// <summary>
/// Decodes a token canvas to pixels: whole (the reference's way; the decoder attends globally at token
/// resolution, so this is the exact decode), or in overlapping tiles blended with linear ramps across
/// the overlaps, for canvases whose whole decode would not fit in memory (measured: 2.3 GB for a 64x64
/// grid at the reference size). Tiles see only their own tokens, so a tiled decode is close to, not
/// equal to, the whole one; the ramps hide the seams.
/// </summary>
public static class CanvasDecoder
{
    /// <summary>Tokens above which <see cref="Decode"/> tiles when not told (64 x 64).</summary>
    public const int WholeDecodeLimit = 64 * 64;

    /// <summary>Bytes a decode of an H x W canvas holds at its peak: the float image, the tiles' weights and
    /// the normalised result (3 + 1 + 3 floats a pixel, f² pixels a token); the tiles themselves are small.</summary>
    public static long PeakBytes(long height, long width, int downscale) => 7L * sizeof(float) * downscale * downscale * height * width;

    /// <summary>(3, H·f, W·f) float image, unclamped. <paramref name="tile"/> 0 picks whole or tiled.
    /// The same pixels whatever the thread settings (it runs single-threaded: parallel reductions differ
    /// in the last bits with the thread count).</summary>
    public static Tensor Decode(VqAutoEncoder ae, long[] tokens, int height, int width, int tile = 0, int overlap = 8, Device? device = null) =>
        with_single_thread(() => DecodeAny(ae, tokens, height, width, tile, overlap, device));

    private static Tensor DecodeAny(VqAutoEncoder ae, long[] tokens, int height, int width, int tile, int overlap, Device? device)
    {
        if (tokens.Length != height * width) throw new ArgumentException("token count does not match the canvas");
        if (tile == 0 && height * width > WholeDecodeLimit) tile = 32;
        if (tile == 0 || (tile >= height && tile >= width)) return Whole(ae, tokens, height, width, device);
        return Tiled(ae, tokens, height, width, Math.Min(tile, height), Math.Min(tile, width), overlap, device);
    }

    private static Tensor Whole(VqAutoEncoder ae, long[] tokens, int h, int w, Device? device)
    {
        using var scope = NewDisposeScope();
        var ids = from_array<long>(tokens, 1, h, w).to(device ?? Device.CPU);
        return ae.decode(ids)[0].cpu().MoveToOuterDisposeScope();
    }

    private static Tensor Tiled(VqAutoEncoder ae, long[] tokens, int h, int w, int th, int tw, int overlap, Device? device)
    {
        overlap = Math.Clamp(overlap, 0, Math.Min(th, tw) - 1);
        var f = ae.Downscale;
        var tiling = new WindowTiling(h, w, th, tw, Math.Max(1, th - overlap), Math.Max(1, tw - overlap));
        var image = zeros(3, h * f, w * f);
        var weight = zeros(1, h * f, w * f);
        foreach (var t in tiling.Windows)
        {
            using var scope = NewDisposeScope();
            var crop = new long[th * tw];
            for (var r = 0; r < th; r++) Array.Copy(tokens, (t.Top + r) * w + t.Left, crop, r * tw, tw);
            var pixels = ae.decode(from_array<long>(crop, 1, th, tw).to(device ?? Device.CPU))[0].cpu();
            // Weight 1 inside, ramping down towards the tile's edges that border another tile.
            var wy = Ramp(th * f, t.Top > 0 ? overlap * f : 0, t.Top + th < h ? overlap * f : 0).view(1, th * f, 1);
            var wx = Ramp(tw * f, t.Left > 0 ? overlap * f : 0, t.Left + tw < w ? overlap * f : 0).view(1, 1, tw * f);
            var wt = wy * wx;
            image.narrow(1, t.Top * f, th * f).narrow(2, t.Left * f, tw * f).add_(pixels * wt);
            weight.narrow(1, t.Top * f, th * f).narrow(2, t.Left * f, tw * f).add_(wt);
        }
        var result = image / weight;
        image.Dispose();
        weight.Dispose();
        return result;
    }

    private static Tensor Ramp(int size, int rampStart, int rampEnd)
    {
        var v = new float[size];
        for (var i = 0; i < size; i++)
        {
            double a = 1;
            if (rampStart > 0 && i < rampStart) a = Math.Min(a, (i + 0.5) / rampStart);
            if (rampEnd > 0 && i >= size - rampEnd) a = Math.Min(a, (size - i - 0.5) / rampEnd);
            v[i] = (float)a;
        }
        return tensor(v);
    }
}
