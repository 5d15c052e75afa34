namespace UnleashingTransformers.Grid.Contracts;

/// <summary>Probabilities (temperature 1) over the codebook at the request's positions, row-major
/// (Positions.Length, CodebookSize), as raw little-endian float32 bytes: a <c>byte[]</c> is one block
/// on the wire, where a <c>float[]</c> would be written element by element.</summary>
[GenerateSerializer, Immutable]
public sealed record WindowResult(
    [property: Id(0)] long RequestId,
    [property: Id(1)] int WindowId,
    [property: Id(2)] byte[] Probabilities);
