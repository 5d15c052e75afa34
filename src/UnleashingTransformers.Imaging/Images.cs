using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Imaging;

/// <summary>
/// Images as the reference handles them: float tensors (3, H, W) in [0, 1] (no [-1, 1] normalisation),
/// prepared with Resize(shorter side) then CenterCrop, saved with clamp(0, 1), x255 + 0.5 rounding.
/// </summary>
public static class Images
{
    public static readonly string[] Extensions = { ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif" };

    /// <summary>Decodes a file to uint8 (3, H, W); one of more than <paramref name="maxPixels"/> pixels is refused
    /// before it is decoded; <paramref name="shrinkTo"/> as <see cref="ImageCodec.Decode"/>.</summary>
    public static Tensor LoadRgb(string path, long maxPixels = ImageCodec.DefaultMaxPixels, int shrinkTo = 0)
    {
        using var hwc = ImageCodec.Decode(path, maxPixels, shrinkTo);
        return hwc.permute(2, 0, 1).contiguous();
    }

    /// <summary>Decodes a file to float (3, H, W) in [0, 1].</summary>
    public static Tensor Load(string path)
    {
        using var scope = NewDisposeScope();
        return (LoadRgb(path).to(float32) / 255).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The reference's data pipeline for one image: Resize(size) (shorter side to size, the longer to
    /// floor(size·long/short), antialiased bilinear as PIL) then CenterCrop(size). An image smaller than
    /// the crop is refused rather than blown up.
    /// </summary>
    public static Tensor Prepare(Tensor image, int size, string source = "image")
    {
        using var scope = NewDisposeScope();
        var (h, w) = (image.size(-2), image.size(-1));
        if (Math.Min(h, w) < size)
            throw new ArgumentException($"{source} is {w}x{h}, smaller than the {size}x{size} crop: use a larger image or a smaller size");
        var x = image.dtype == ScalarType.Byte ? image.to(float32) / 255 : image.alias();
        if (Math.Min(h, w) != size)
        {
            long nh = size, nw = size;   // the shorter side to size, the longer floor(size·long/short)
            if (h <= w) nw = (long)(size * (double)w / h);
            else nh = (long)(size * (double)h / w);
            x = F.interpolate(x.unsqueeze(0), size: new[] { nh, nw }, mode: "bilinear", antialias: true).squeeze(0).clamp(0, 1);
            (h, w) = (nh, nw);
        }
        var top = (long)Math.Round((h - size) / 2.0, MidpointRounding.ToEven);
        var left = (long)Math.Round((w - size) / 2.0, MidpointRounding.ToEven);
        return x.narrow(-2, top, size).narrow(-1, left, size).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Loads and prepares a file (see <see cref="Prepare"/>). An image more than four times the crop
    /// is decoded already reduced to twice it (shrink-on-load), then prepared from there: memory follows the
    /// crop, not the file (pixels differ from a full decode's by the last bits of the resampling).</summary>
    public static Tensor LoadPrepared(string path, int size, long maxPixels = ImageCodec.DefaultMaxPixels)
    {
        using var raw = LoadRgb(path, maxPixels, shrinkTo: 2 * size);
        return Prepare(raw, size, path);
    }

    /// <summary>
    /// Saves (3, H, W) float in [0, 1] (clamped, x255 + 0.5) or uint8, as PNG/JPEG/WebP/TIFF/DeepZoom by
    /// extension, atomically; a PNG carries <paramref name="parameters"/> (how it was made) in a text chunk
    /// named <c>parameters</c> when given. Converted a strip of rows at a time, so a huge image costs one uint8 copy beyond
    /// the tensor itself.
    /// </summary>
    public static void Save(Tensor image, string path, int quality = 95, string? parameters = null)
    {
        if (image.dim() != 3 || image.size(0) is not (1 or 3))
            throw new ArgumentException($"an image is (3, H, W) or (1, H, W), got [{string.Join(", ", image.shape)}]");
        var (c, h, w) = ((int)image.size(0), (int)image.size(1), (int)image.size(2));
        var pixels = new byte[checked((long)h * w * c)];
        var rowsPerStrip = Math.Max(1, (1 << 22) / Math.Max(1, w * c));
        using (no_grad())
        {
            for (var y = 0; y < h; y += rowsPerStrip)
            {
                using var scope = NewDisposeScope();
                var n = Math.Min(rowsPerStrip, h - y);
                var strip = image.narrow(1, y, n).cpu();
                var bytes = strip.dtype == ScalarType.Byte ? strip : (strip.to(float32).clamp(0, 1) * 255 + 0.5).floor().to(ScalarType.Byte);
                bytes.permute(1, 2, 0).contiguous().data<byte>().CopyTo(pixels.AsSpan(y * w * c, n * w * c));
            }
        }
        Write(path, tmp => ImageCodec.Encode(tmp, pixels, w, h, c, quality, parameters));
    }

    /// <summary>Writes an image file again in the format of <paramref name="path"/>'s extension (.png, .jpg, .webp,
    /// .tif tiled and pyramidal, .dzi a DeepZoom pyramid), streaming: a gigapixel image is never whole in memory.</summary>
    public static void Convert(string source, string path, int quality = 90) => Write(path, tmp => ImageCodec.Convert(source, tmp, quality));

    /// <summary>Writes a raw file of interleaved (H, W, 3) uint8 pixels as an image (format by extension), streaming
    /// from the file, atomically; a PNG carries <paramref name="parameters"/> when given.</summary>
    public static void SaveRaw(string raw, int width, int height, string path, string? parameters = null, int quality = 95) =>
        Write(path, tmp => ImageCodec.EncodeRaw(raw, width, height, 3, tmp, quality, parameters));

    /// <summary>
    /// Writes atomically: through a temporary beside the target, renamed over it. A DeepZoom pyramid is a
    /// file x.dzi and a folder x_files: the folder is moved into place first, then the .dzi, so a reader that
    /// finds the .dzi finds its tiles.
    /// </summary>
    private static void Write(string path, Action<string> write)
    {
        AtomicFile.Write(path, tmp =>
        {
            try
            {
                write(tmp);
            }
            catch (ImageException e)
            {
                throw new ArgumentException(e.Message.Replace(tmp, path));
            }
            if (!path.EndsWith(".dzi", StringComparison.OrdinalIgnoreCase)) return;
            var tiles = Path.ChangeExtension(tmp, null) + "_files";
            var target = Path.ChangeExtension(Path.GetFullPath(path), null) + "_files";
            if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
            Directory.Move(tiles, target);
        });
    }

    /// <summary>Tiles images (N, 3, H, W) into one (3, H', W') grid, torchvision's make_grid style.</summary>
    public static Tensor Grid(Tensor images, int perRow = 8, int padding = 2)
    {
        using var scope = NewDisposeScope();
        var (n, c, h, w) = (images.size(0), images.size(1), images.size(2), images.size(3));
        var cols = Math.Min(perRow, n);
        var rows = (n + cols - 1) / cols;
        var grid = zeros(new[] { c, rows * (h + padding) + padding, cols * (w + padding) + padding }, images.dtype);
        for (var i = 0; i < n; i++)
        {
            var (r, k) = (i / cols, i % cols);
            grid.narrow(1, r * (h + padding) + padding, h).narrow(2, k * (w + padding) + padding, w).copy_(images[i]);
        }
        return grid.MoveToOuterDisposeScope();
    }
}
