using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.VqGan;

/// <summary>
/// Blends decoded tiles into image rows a strip at a time: tiles are added in the tiling's order, and after
/// each row of tiles the pixel rows no later tile touches are normalised, rounded to bytes (clamp(0, 1),
/// x255 + 0.5, as <see cref="Imaging.Images.Save"/> does) and written to the output as interleaved RGB.
/// It holds one strip of tile rows (a tile high, the image wide), never the image. Each pixel's tiles are
/// added in the same order whoever decoded them, so the bytes are those of a whole in-memory blend.
/// </summary>
public sealed class TileBlender : IDisposable
{
    private readonly DecodeTiling _tiling;
    private readonly Stream _output;
    private readonly long _held, _wide;
    private Tensor _image, _weight, _spareImage, _spareWeight;
    private long _start;                                                     // the image row of the strip's first row
    private int _next;                                                       // the next tile to add

    public TileBlender(DecodeTiling tiling, Stream output)
    {
        (_tiling, _output) = (tiling, output);
        var f = tiling.Downscale;
        (_held, _wide) = ((long)tiling.TileHeight * f, (long)tiling.Width * f);
        (_image, _weight) = (zeros(3, _held, _wide), zeros(1, _held, _wide));
        (_spareImage, _spareWeight) = (zeros(3, _held, _wide), zeros(1, _held, _wide));
    }

    /// <summary>Bytes the blender holds at its peak: two strips that take turns (3 + 1 floats a pixel each)
    /// and one strip of output bytes.</summary>
    public static long PeakBytes(DecodeTiling tiling)
    {
        var (held, wide) = ((long)tiling.TileHeight * tiling.Downscale, (long)tiling.Width * tiling.Downscale);
        return 2 * 4L * sizeof(float) * held * wide + 3L * held * wide;
    }

    /// <summary>Whether every tile was added (and so every row written).</summary>
    public bool Done => _next == _tiling.Tiles.Count;

    /// <summary>Adds the next tile of the tiling (the caller keeps the order), (3, TileHeight·f, TileWidth·f) float.</summary>
    public void Add(Tensor pixels)
    {
        if (Done) throw new InvalidOperationException("every tile was added already");
        var t = _tiling.Tiles[_next];
        var f = _tiling.Downscale;
        var top = (long)t.Top * f;
        using (var scope = NewDisposeScope())
        {
            var wt = _tiling.Weight(t);
            _image.narrow(1, top - _start, _tiling.TileHeight * f).narrow(2, (long)t.Left * f, _tiling.TileWidth * f).add_(pixels * wt);
            _weight.narrow(1, top - _start, _tiling.TileHeight * f).narrow(2, (long)t.Left * f, _tiling.TileWidth * f).add_(wt);
        }
        _next++;
        if (_next % _tiling.TilesPerRow == 0) FlushRow(_next / _tiling.TilesPerRow - 1);
    }

    private void FlushRow(int row)
    {
        var f = _tiling.Downscale;
        var tops = _tiling.Tops;
        var done = row + 1 < tops.Count ? (long)tops[row + 1] * f : (long)_tiling.Height * f;
        using (var scope = NewDisposeScope())
        {
            var n = done - _start;
            var rgb = _image.narrow(1, 0, n) / _weight.narrow(1, 0, n);
            var bytes = (rgb.clamp(0, 1) * 255 + 0.5).floor().to(ScalarType.Byte).permute(1, 2, 0).contiguous();
            _output.Write(bytes.data<byte>());
        }
        // The strip moves down: rows not yet final stay, the rest starts empty. Two strips take turns, so no
        // strip is allocated a row (a fresh 30 MB buffer a row left the allocator holding hundreds of MB).
        var keep = _start + _held - done;
        _spareImage.zero_();
        _spareWeight.zero_();
        if (keep > 0)
        {
            // In a scope of its own: a view left to an enclosing scope would keep its strip's storage alive.
            using var scope = NewDisposeScope();
            _spareImage.narrow(1, 0, keep).copy_(_image.narrow(1, done - _start, keep));
            _spareWeight.narrow(1, 0, keep).copy_(_weight.narrow(1, done - _start, keep));
        }
        (_image, _spareImage) = (_spareImage, _image);
        (_weight, _spareWeight) = (_spareWeight, _weight);
        _start = done;
    }

    public void Dispose()
    {
        foreach (var t in new[] { _image, _weight, _spareImage, _spareWeight }) t.Dispose();
    }
}
