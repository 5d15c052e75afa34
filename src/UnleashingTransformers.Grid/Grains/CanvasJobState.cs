using UnleashingTransformers.Grid.Jobs;

namespace UnleashingTransformers.Grid.Grains;

/// <summary>A canvas job as saved at step boundaries: the request, the model and weights version it is generated
/// with, and the tokens after <see cref="Step"/> steps (kept once done: an edit starts from them; dropped when a job fails or is cancelled).</summary>
[GenerateSerializer]
public sealed class CanvasJobState
{
    [Id(0)] public CanvasJobSpec? Spec { get; set; }
    [Id(1)] public string Model { get; set; } = "";
    [Id(2)] public JobState State { get; set; }
    [Id(3)] public int Step { get; set; }
    [Id(4)] public int Steps { get; set; }
    [Id(5)] public long[]? Tokens { get; set; }
    [Id(6)] public long Revealed { get; set; }
    [Id(7)] public long Total { get; set; }
    [Id(8)] public string? Error { get; set; }
    [Id(9)] public DateTimeOffset Created { get; set; }
    [Id(10)] public DateTimeOffset Updated { get; set; }
    [Id(11)] public bool CancelRequested { get; set; }
    /// <summary>The model's name (empty in jobs saved before models had names: the silo's default).</summary>
    [Id(12)] public string ModelName { get; set; } = "";
}
