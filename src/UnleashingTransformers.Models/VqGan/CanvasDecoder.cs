using UnleashingTransformers.Imaging;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.VqGan;

/// <summary>
/// Decodes a token canvas to pixels: whole (the reference's way; the decoder attends globally at token
/// resolution, so this is the exact decode), or in overlapping tiles blended with linear ramps across
/// the overlaps, for canvases whose whole decode would not fit in memory (measured: 2.3 GB for a 64x64
/// grid at the reference size). Tiles see only their own tokens, so a tiled decode is close to, not
/// equal to, the whole one; the ramps hide the seams. <see cref="DecodeToFile"/> writes the decode
/// straight to an image file a strip of tile rows at a time (<see cref="TileBlender"/>), so a gigapixel
/// canvas never lies whole in memory; <see cref="RenderAsync"/> does the same with tiles decoded elsewhere
/// (the grid's replicas).
/// </summary>
public static class CanvasDecoder
{
    /// <summary>Tokens above which <see cref="Decode"/> tiles when not told (64 x 64).</summary>
    public const int WholeDecodeLimit = DecodeTiling.WholeDecodeLimit;

    /// <summary>Whether <see cref="Decode"/> and <see cref="DecodeToFile"/> decode the canvas whole.</summary>
    public static bool Whole(long height, long width, int tile) => DecodeTiling.Whole(height, width, tile);

    /// <summary>Bytes <see cref="DecodeToFile"/> holds at its peak for an H x W canvas: whole, the float image, the
    /// weights and the normalised result (3 + 1 + 3 floats a pixel, f² pixels a token); tiled, the strip of tile
    /// rows being blended (3 + 1 floats a pixel, a tile high, the image wide) and one row of pixels as bytes.</summary>
    public static long PeakBytes(long height, long width, int downscale, int tile = 0) => Whole(height, width, tile)
        ? 7L * sizeof(float) * downscale * downscale * height * width
        : 4L * sizeof(float) * downscale * (tile == 0 ? DecodeTiling.DefaultTile : tile) * downscale * width + 3L * downscale * width;

    /// <summary>
    /// Decodes the canvas into an image file (format by extension, atomically, a PNG carrying
    /// <paramref name="parameters"/>), tile row by tile row, each finished strip of pixels appended to a raw
    /// file beside the target, which libvips then streams into the image. The pixels are those of
    /// <see cref="Decode"/> with the same tiles, bit for bit (each pixel's tiles are added in the same order).
    /// </summary>
    public static void DecodeToFile(VqAutoEncoder ae, long[] tokens, int height, int width, string path, int tile = 0, int overlap = 8,
        Device? device = null, string? parameters = null)
    {
        if (tokens.Length != (long)height * width) throw new ArgumentException("token count does not match the canvas");
        var tiling = new DecodeTiling(height, width, ae.Downscale, tile, overlap);
        WriteRaw(tiling, path, parameters, raw => with_single_thread(() =>
        {
            using var blender = new TileBlender(tiling, raw);
            foreach (var t in tiling.Tiles)
            {
                using var pixels = DecodeTiling.DecodeTile(ae, tiling.Crop(tokens, t), tiling.TileHeight, tiling.TileWidth, device);
                blender.Add(pixels);
            }
            return 0;
        }));
    }

    /// <summary>
    /// Writes an image file from tiles decoded elsewhere: <paramref name="tiles"/> yields each tile's pixels,
    /// float (3, TileHeight·f, TileWidth·f), in the tiling's order. The same bytes as <see cref="DecodeToFile"/>
    /// when the tiles are (<see cref="DecodeTiling.DecodeTile"/> of the same VQ-GAN on the same kind of device).
    /// Returns how long the tiles took to arrive and blend, and how long the image took to encode.
    /// </summary>
    public static async Task<(TimeSpan tiles, TimeSpan encode)> RenderAsync(DecodeTiling tiling, IAsyncEnumerable<Tensor> tiles, string path, string? parameters = null,
        CancellationToken cancel = default)
    {
        var raw = RawPath(path);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await using (var file = new FileStream(raw, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: false))
            {
                using var blender = new TileBlender(tiling, file);
                await foreach (var pixels in tiles.WithCancellation(cancel))
                    using (pixels)
                        blender.Add(pixels);
                if (!blender.Done) throw new InvalidOperationException("the decode ended before its last tile");
            }
            var blended = clock.Elapsed;
            var f = tiling.Downscale;
            Images.SaveRaw(raw, tiling.Width * f, tiling.Height * f, path, parameters);
            return (blended, clock.Elapsed - blended);
        }
        finally
        {
            File.Delete(raw);
        }
    }

    /// <summary>Leftovers of renders of <paramref name="path"/> that were cut short (a killed process): raw pixels,
    /// and the half-written image of its atomic write.</summary>
    public static void RemoveLeftovers(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        foreach (var stale in Directory.EnumerateFiles(dir, $".{Path.GetFileName(full)}.*.raw")
            .Concat(Directory.EnumerateFiles(dir, $".{Path.GetFileNameWithoutExtension(full)}.*.tmp{Path.GetExtension(full)}")))
            File.Delete(stale);
    }

    /// <summary>Leftovers of any render in <paramref name="directory"/> untouched for <paramref name="idle"/> (a render
    /// writes its files as it goes, so these belong to a process that died): what a starting silo clears.</summary>
    public static int RemoveLeftovers(string directory, TimeSpan idle)
    {
        var removed = 0;
        var before = DateTime.UtcNow - idle;
        foreach (var stale in Directory.EnumerateFiles(directory, ".*.raw").Concat(Directory.EnumerateFiles(directory, ".*.tmp.*")))
        {
            if (File.GetLastWriteTimeUtc(stale) >= before) continue;
            File.Delete(stale);
            removed++;
        }
        return removed;
    }

    private static string RawPath(string path)
    {
        var full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.raw");
    }

    private static void WriteRaw(DecodeTiling tiling, string path, string? parameters, Func<Stream, int> fill)
    {
        var raw = RawPath(path);
        try
        {
            using (var file = new FileStream(raw, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20)) fill(file);
            var f = tiling.Downscale;
            Images.SaveRaw(raw, tiling.Width * f, tiling.Height * f, path, parameters);
        }
        finally
        {
            File.Delete(raw);
        }
    }

    /// <summary>(3, H·f, W·f) float image, unclamped. <paramref name="tile"/> 0 picks whole or tiled.
    /// The same pixels whatever the thread settings (it runs single-threaded: parallel reductions differ
    /// in the last bits with the thread count).</summary>
    public static Tensor Decode(VqAutoEncoder ae, long[] tokens, int height, int width, int tile = 0, int overlap = 8, Device? device = null) =>
        with_single_thread(() => DecodeAny(ae, tokens, height, width, tile, overlap, device));

    private static Tensor DecodeAny(VqAutoEncoder ae, long[] tokens, int height, int width, int tile, int overlap, Device? device)
    {
        if (tokens.Length != (long)height * width) throw new ArgumentException("token count does not match the canvas");
        var tiling = new DecodeTiling(height, width, ae.Downscale, tile, overlap);
        if (tiling.Tiles.Count == 1) return DecodeTiling.DecodeTile(ae, tokens, height, width, device);
        var f = ae.Downscale;
        var image = zeros(3, height * f, width * f);
        var weight = zeros(1, height * f, width * f);
        foreach (var t in tiling.Tiles)
        {
            using var scope = NewDisposeScope();
            var pixels = DecodeTiling.DecodeTile(ae, tiling.Crop(tokens, t), tiling.TileHeight, tiling.TileWidth, device);
            var wt = tiling.Weight(t);
            image.narrow(1, t.Top * f, tiling.TileHeight * f).narrow(2, t.Left * f, tiling.TileWidth * f).add_(pixels * wt);
            weight.narrow(1, t.Top * f, tiling.TileHeight * f).narrow(2, t.Left * f, tiling.TileWidth * f).add_(wt);
        }
        var result = image / weight;
        image.Dispose();
        weight.Dispose();
        return result;
    }
}
