namespace UnleashingTransformers.Grid.Contracts;

/// <summary>
/// One window's forward pass, as the canvas asks for it: the window's current tokens (row-major,
/// mask id where unknown) and the window-local positions whose distributions are wanted. Only those
/// positions' distributions travel back (wire economy: a step reveals a few tokens, not 256 per window).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record WindowRequest(
    [property: Id(0)] long RequestId,
    [property: Id(1)] int WindowId,
    [property: Id(2)] long[] Tokens,
    [property: Id(3)] int[] Positions);
