namespace UnleashingTransformers.Grid.Contracts;

/// <summary>One tile of a finished canvas for a replica's VQ-GAN to decode: its tokens, row-major, and its shape.</summary>
[GenerateSerializer, Immutable]
public sealed record TileRequest(
    [property: Id(0)] long[] Tokens,
    [property: Id(1)] int Height,
    [property: Id(2)] int Width);
