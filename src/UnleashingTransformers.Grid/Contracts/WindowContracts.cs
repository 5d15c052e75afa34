namespace UnleashingTransformers.Grid.Contracts;

/// <summary>
/// One window's forward pass, as the canvas asks for it: the window's current tokens (row-major,
/// mask id where unknown) and the window-local positions whose distributions are wanted. Only those
/// positions' distributions travel back (wire economy: a step reveals a few tokens, not 256 per window).
/// </summary>
public sealed record WindowRequest(long RequestId, int WindowId, long[] Tokens, int[] Positions);

/// <summary>Probabilities (temperature 1) over the codebook at the request's positions, row-major
/// (Positions.Length, CodebookSize).</summary>
public sealed record WindowResult(long RequestId, int WindowId, float[] Probabilities);

/// <summary>
/// Where window forward passes run: in this process on model replicas, or on remote replicas through a
/// broker. A pool may batch, reorder or retry requests; results are matched by request id.
/// </summary>
public interface IWindowPool : IAsyncDisposable
{
    /// <summary>Tokens per window (the prior's block size) and codebook size the pool serves.</summary>
    int WindowLength { get; }
    int CodebookSize { get; }
    int MaskId { get; }

    Task<IReadOnlyList<WindowResult>> EvaluateAsync(IReadOnlyList<WindowRequest> requests, CancellationToken cancel = default);
}
