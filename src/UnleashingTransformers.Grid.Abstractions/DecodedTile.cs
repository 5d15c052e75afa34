namespace UnleashingTransformers.Grid.Contracts;

/// <summary>A decoded tile: float32 pixels (3, Height·f, Width·f), unclamped, as raw little-endian bytes (one
/// block on the wire), and the window requests the replica had queued when it answered (where the canvas
/// sends its next tiles: replicas that are not busy sampling first).</summary>
[GenerateSerializer, Immutable]
public sealed record DecodedTile(
    [property: Id(0)] byte[] Pixels,
    [property: Id(1)] int QueuedWindows);
