using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.VqGan;

/// <summary>
/// How a canvas is decoded: in one tile when it is small enough to decode whole (the exact decode), else
/// in overlapping tiles of <c>tile</c> tokens, blended with linear ramps across the overlaps
/// (<see cref="TileBlender"/>). Every decoder of a canvas, local or spread over the grid's replicas, takes
/// its tiles from here, so they all make the same pixels.
/// </summary>
public sealed class DecodeTiling
{
    /// <summary>Tokens above which a canvas is tiled when not told (64 x 64).</summary>
    public const int WholeDecodeLimit = 64 * 64;

    /// <summary>Tile size in tokens when not told.</summary>
    public const int DefaultTile = 32;

    public int Height { get; }
    public int Width { get; }
    public int TileHeight { get; }
    public int TileWidth { get; }
    public int Overlap { get; }
    /// <summary>Pixels a token (the VQ-GAN's downscale factor).</summary>
    public int Downscale { get; }
    /// <summary>The tiles, row by row (a row shares its top); a canvas decoded whole is one tile.</summary>
    public IReadOnlyList<Window> Tiles => _tiling.Windows;
    /// <summary>The tile rows' tops, in tokens.</summary>
    public IReadOnlyList<int> Tops => _tiling.Tops;
    public int TilesPerRow => _tiling.Lefts.Count;

    private readonly WindowTiling _tiling;

    /// <param name="tile">0: whole up to <see cref="WholeDecodeLimit"/> tokens, tiles of <see cref="DefaultTile"/> above.</param>
    public DecodeTiling(int height, int width, int downscale, int tile = 0, int overlap = 8)
    {
        if (height < 1 || width < 1) throw new ArgumentException($"canvas {height}x{width}: height and width must be >= 1");
        if (tile < 0) throw new ArgumentException($"decode tile {tile}: expected 0 (automatic) or a tile size in tokens");
        (Height, Width, Downscale) = (height, width, downscale);
        if (Whole(height, width, tile))
        {
            (TileHeight, TileWidth, Overlap) = (height, width, 0);
        }
        else
        {
            if (tile == 0) tile = DefaultTile;
            (TileHeight, TileWidth) = (Math.Min(tile, height), Math.Min(tile, width));
            Overlap = Math.Clamp(overlap, 0, Math.Min(TileHeight, TileWidth) - 1);
        }
        _tiling = new WindowTiling(height, width, TileHeight, TileWidth, Math.Max(1, TileHeight - Overlap), Math.Max(1, TileWidth - Overlap));
    }

    /// <summary>Whether a canvas is decoded whole.</summary>
    public static bool Whole(long height, long width, int tile) => tile == 0 ? height * width <= WholeDecodeLimit : tile >= height && tile >= width;

    /// <summary>The tile's tokens, row-major (TileHeight x TileWidth).</summary>
    public long[] Crop(long[] tokens, Window t)
    {
        if (tokens.Length != (long)Height * Width) throw new ArgumentException("token count does not match the canvas");
        var crop = new long[TileHeight * TileWidth];
        for (var r = 0; r < TileHeight; r++) Array.Copy(tokens, (long)(t.Top + r) * Width + t.Left, crop, r * TileWidth, TileWidth);
        return crop;
    }

    /// <summary>Floats of one decoded tile: (3, TileHeight·f, TileWidth·f).</summary>
    public int TileFloats => 3 * TileHeight * Downscale * TileWidth * Downscale;

    /// <summary>A tile's pixels, float (3, TileHeight·f, TileWidth·f) on the CPU, unclamped. The caller runs it
    /// single-threaded (<see cref="torch.with_single_thread{T}"/>): parallel reductions differ in the last bits
    /// with the thread count.</summary>
    public static Tensor DecodeTile(VqAutoEncoder ae, long[] crop, int tileHeight, int tileWidth, Device? device = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return ae.decode(from_array<long>(crop, 1, tileHeight, tileWidth).to(device ?? Device.CPU))[0].cpu().contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>A tile's blending weight (1, TileHeight·f, TileWidth·f): 1 inside, ramping down towards the edges
    /// that border another tile.</summary>
    public Tensor Weight(Window t)
    {
        var (f, o) = (Downscale, Overlap * Downscale);
        using var scope = NewDisposeScope();
        var wy = Ramp(TileHeight * f, t.Top > 0 ? o : 0, t.Top + TileHeight < Height ? o : 0).view(1, TileHeight * f, 1);
        var wx = Ramp(TileWidth * f, t.Left > 0 ? o : 0, t.Left + TileWidth < Width ? o : 0).view(1, 1, TileWidth * f);
        return (wy * wx).MoveToOuterDisposeScope();
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
