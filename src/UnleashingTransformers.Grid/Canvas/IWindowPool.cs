using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Grid.Canvas;

/// <summary>
/// Where a canvas's window forward passes run: on model replicas in this process
/// (<c>Replicas.InProcessWindowPool</c>, the embedded <c>ut generate</c>) or on the cluster's window
/// replica grains (<c>Replicas.OrleansWindowPool</c>). A pool may batch, reorder or retry requests;
/// results come back in request order.
/// </summary>
public interface IWindowPool : IAsyncDisposable
{
    /// <summary>Tokens per window (the prior's block size) and codebook size the pool serves.</summary>
    int WindowLength { get; }
    int CodebookSize { get; }
    int MaskId { get; }
    /// <summary>The prior's corruption, which decides the canvas's step (absorbing reveal, or SUNDAE's refinement).</summary>
    Corruption Corruption => Corruption.Absorbing;

    Task<IReadOnlyList<WindowResult>> EvaluateAsync(IReadOnlyList<WindowRequest> requests, CancellationToken cancel = default);
}
