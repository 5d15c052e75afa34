namespace UnleashingTransformers.Grid.Contracts;

/// <summary>The VQ-GAN a window silo decodes with: its file's version, pixels a token, codebook size, and each
/// code's mean colour (codebook size · 3 sRGB bytes) for canvas previews.</summary>
[GenerateSerializer, Immutable]
public sealed record DecoderInfo(
    [property: Id(0)] string Version,
    [property: Id(1)] int Downscale,
    [property: Id(2)] int CodebookSize,
    [property: Id(3)] byte[] Palette);
