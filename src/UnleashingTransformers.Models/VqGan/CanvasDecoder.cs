using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.VqGan;

/// <summary>
/// Decodes a token canvas to pixels: whole (the reference's way; the decoder attends globally at token
/// resolution, so this is the exact decode), or in overlapping tiles blended with linear ramps across
/// the overlaps, for canvases whose whole decode would not fit in memory (measured: 2.3 GB for a 64x64
/// grid at the reference size). Tiles see only their own tokens, so a tiled decode is close to, not
/// equal to, the whole one; the ramps hide the seams. <see cref="DecodeToFile"/> writes the tiled decode
/// straight to an image file a strip of tile rows at a time, so a gigapixel canvas never lies whole in memory.
/// </summary>
public static class CanvasDecoder
{
    /// <summary>Tokens above which <see cref="Decode"/> tiles when not told (64 x 64).</summary>
    public const int WholeDecodeLimit = 64 * 64;

    /// <summary>Tile size in tokens when not told.</summary>
    public const int DefaultTile = 32;

    /// <summary>Whether <see cref="Decode"/> and <see cref="DecodeToFile"/> decode the canvas whole.</summary>
    public static bool Whole(long height, long width, int tile) => tile == 0 ? height * width <= WholeDecodeLimit : tile >= height && tile >= width;

    /// <summary>Bytes <see cref="DecodeToFile"/> holds at its peak for an H x W canvas: whole, the float image, the
    /// weights and the normalised result (3 + 1 + 3 floats a pixel, f² pixels a token); tiled, the strip of tile
    /// rows being blended (3 + 1 floats a pixel, a tile high, the image wide) and one row of pixels as bytes.</summary>
    public static long PeakBytes(long height, long width, int downscale, int tile = 0) => Whole(height, width, tile)
        ? 7L * sizeof(float) * downscale * downscale * height * width
        : 4L * sizeof(float) * downscale * (tile == 0 ? DefaultTile : tile) * downscale * width + 3L * downscale * width;

    /// <summary>
    /// Decodes the canvas into an image file (format by extension, atomically, a PNG carrying
    /// <paramref name="parameters"/>): whole when <see cref="Whole(long, long, int)"/>, otherwise tile row by tile row,
    /// each finished strip of pixels appended to a raw file beside the target, which libvips then streams into
    /// the image. The pixels are those of <see cref="Decode"/> with the same tiles, bit for bit (each pixel's
    /// tiles are added in the same order).
    /// </summary>
    public static void DecodeToFile(VqAutoEncoder ae, long[] tokens, int height, int width, string path, int tile = 0, int overlap = 8,
        Device? device = null, string? parameters = null)
    {
        if (tokens.Length != height * width) throw new ArgumentException("token count does not match the canvas");
        if (Whole(height, width, tile))
        {
            using var image = Decode(ae, tokens, height, width, tile, overlap, device);
            Images.Save(image, path, parameters: parameters);
            return;
        }
        var full = Path.GetFullPath(path);
        var raw = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.raw");
        try
        {
            with_single_thread(() =>
            {
                using var file = new FileStream(raw, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                Strips(ae, tokens, height, width, Math.Min(tile == 0 ? DefaultTile : tile, height), Math.Min(tile == 0 ? DefaultTile : tile, width), overlap, device, file);
                return 0;
            });
            var f = ae.Downscale;
            Images.SaveRaw(raw, width * f, height * f, path, parameters);
        }
        finally
        {
            File.Delete(raw);
        }
    }

    /// <summary>The tiled decode a strip at a time: after each row of tiles, the pixel rows no later tile
    /// touches are normalised, rounded to bytes (as <see cref="Images.Save"/> does) and written.</summary>
    private static void Strips(VqAutoEncoder ae, long[] tokens, int h, int w, int th, int tw, int overlap, Device? device, Stream output)
    {
        overlap = Math.Clamp(overlap, 0, Math.Min(th, tw) - 1);
        var f = ae.Downscale;
        var tiling = new WindowTiling(h, w, th, tw, Math.Max(1, th - overlap), Math.Max(1, tw - overlap));
        var (held, pixelsWide) = ((long)th * f, (long)w * f);
        var image = zeros(3, held, pixelsWide);
        var weight = zeros(1, held, pixelsWide);
        long start = 0;                                                           // the image row of the strip's first row
        try
        {
            for (var row = 0; row < tiling.Tops.Count; row++)
            {
                var top = (long)tiling.Tops[row] * f;
                foreach (var t in tiling.Windows.Where(t => t.Top == tiling.Tops[row]))
                {
                    using var scope = NewDisposeScope();
                    var (pixels, wt) = Tile(ae, tokens, h, w, t, th, tw, overlap, device);
                    image.narrow(1, top - start, th * f).narrow(2, t.Left * f, tw * f).add_(pixels * wt);
                    weight.narrow(1, top - start, th * f).narrow(2, t.Left * f, tw * f).add_(wt);
                }
                var done = row + 1 < tiling.Tops.Count ? (long)tiling.Tops[row + 1] * f : (long)h * f;
                using (var scope = NewDisposeScope())
                {
                    var n = done - start;
                    var rgb = image.narrow(1, 0, n) / weight.narrow(1, 0, n);
                    var bytes = (rgb.clamp(0, 1) * 255 + 0.5).floor().to(ScalarType.Byte).permute(1, 2, 0).contiguous();
                    output.Write(bytes.data<byte>());
                }
                // The strip moves down: rows not yet final stay, the rest starts empty.
                var keep = start + held - done;
                var (nextImage, nextWeight) = (zeros(3, held, pixelsWide), zeros(1, held, pixelsWide));
                if (keep > 0)
                {
                    // In a scope of its own: a view left to an enclosing scope would keep its strip's storage alive
                    // (it did: 4.3 GB at 2048x2048 tokens, a strip a row).
                    using var scope = NewDisposeScope();
                    nextImage.narrow(1, 0, keep).copy_(image.narrow(1, done - start, keep));
                    nextWeight.narrow(1, 0, keep).copy_(weight.narrow(1, done - start, keep));
                }
                image.Dispose();
                weight.Dispose();
                (image, weight, start) = (nextImage, nextWeight, done);
            }
        }
        finally
        {
            image.Dispose();
            weight.Dispose();
        }
    }

    /// <summary>(3, H·f, W·f) float image, unclamped. <paramref name="tile"/> 0 picks whole or tiled.
    /// The same pixels whatever the thread settings (it runs single-threaded: parallel reductions differ
    /// in the last bits with the thread count).</summary>
    public static Tensor Decode(VqAutoEncoder ae, long[] tokens, int height, int width, int tile = 0, int overlap = 8, Device? device = null) =>
        with_single_thread(() => DecodeAny(ae, tokens, height, width, tile, overlap, device));

    private static Tensor DecodeAny(VqAutoEncoder ae, long[] tokens, int height, int width, int tile, int overlap, Device? device)
    {
        if (tokens.Length != height * width) throw new ArgumentException("token count does not match the canvas");
        if (Whole(height, width, tile)) return DecodeWhole(ae, tokens, height, width, device);
        if (tile == 0) tile = DefaultTile;
        return Tiled(ae, tokens, height, width, Math.Min(tile, height), Math.Min(tile, width), overlap, device);
    }

    private static Tensor DecodeWhole(VqAutoEncoder ae, long[] tokens, int h, int w, Device? device)
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
            var (pixels, wt) = Tile(ae, tokens, h, w, t, th, tw, overlap, device);
            image.narrow(1, t.Top * f, th * f).narrow(2, t.Left * f, tw * f).add_(pixels * wt);
            weight.narrow(1, t.Top * f, th * f).narrow(2, t.Left * f, tw * f).add_(wt);
        }
        var result = image / weight;
        image.Dispose();
        weight.Dispose();
        return result;
    }

    /// <summary>One tile's pixels and blending weight: 1 inside, ramping down towards the edges that border another tile.</summary>
    private static (Tensor pixels, Tensor weight) Tile(VqAutoEncoder ae, long[] tokens, int h, int w, Window t, int th, int tw, int overlap, Device? device)
    {
        var f = ae.Downscale;
        var crop = new long[th * tw];
        for (var r = 0; r < th; r++) Array.Copy(tokens, (t.Top + r) * w + t.Left, crop, r * tw, tw);
        var pixels = ae.decode(from_array<long>(crop, 1, th, tw).to(device ?? Device.CPU))[0].cpu();
        var wy = Ramp(th * f, t.Top > 0 ? overlap * f : 0, t.Top + th < h ? overlap * f : 0).view(1, th * f, 1);
        var wx = Ramp(tw * f, t.Left > 0 ? overlap * f : 0, t.Left + tw < w ? overlap * f : 0).view(1, 1, tw * f);
        return (pixels, wy * wx);
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
