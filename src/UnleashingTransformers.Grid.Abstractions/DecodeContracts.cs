namespace UnleashingTransformers.Grid.Contracts;

/// <summary>One tile of a finished canvas for a replica's VQ-GAN to decode: its tokens, row-major, and its shape.</summary>
[GenerateSerializer, Immutable]
public sealed record TileRequest(
    [property: Id(0)] long[] Tokens,
    [property: Id(1)] int Height,
    [property: Id(2)] int Width);

/// <summary>A decoded tile: float32 pixels (3, Height·f, Width·f), unclamped, as raw little-endian bytes (one
/// block on the wire), and the window requests the replica had queued when it answered (where the canvas
/// sends its next tiles: replicas that are not busy sampling first).</summary>
[GenerateSerializer, Immutable]
public sealed record DecodedTile(
    [property: Id(0)] byte[] Pixels,
    [property: Id(1)] int QueuedWindows);

/// <summary>The VQ-GAN a window silo decodes with: its file's version, pixels a token, codebook size, and each
/// code's mean colour (codebook size · 3 sRGB bytes) for canvas previews.</summary>
[GenerateSerializer, Immutable]
public sealed record DecoderInfo(
    [property: Id(0)] string Version,
    [property: Id(1)] int Downscale,
    [property: Id(2)] int CodebookSize,
    [property: Id(3)] byte[] Palette);
