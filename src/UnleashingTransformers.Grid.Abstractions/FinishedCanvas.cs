namespace UnleashingTransformers.Grid.Jobs;

/// <summary>A finished job's canvas: what an edit of it starts from.</summary>
[GenerateSerializer, Immutable]
public sealed record FinishedCanvas(
    [property: Id(0)] CanvasJobSpec Spec,
    [property: Id(1)] Contracts.ModelKey Model,
    [property: Id(2)] long[] Tokens);
