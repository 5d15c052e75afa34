namespace UnleashingTransformers.Grid.Jobs;

/// <summary>What the gateway and <c>ut submit</c> report of a job.</summary>
[GenerateSerializer, Immutable]
public sealed record JobStatus(
    [property: Id(0)] string Id,
    [property: Id(1)] JobState State,
    [property: Id(2)] int Step,
    [property: Id(3)] int Steps,
    [property: Id(4)] long Revealed,
    [property: Id(5)] long Total,
    [property: Id(6)] string? Error,
    [property: Id(7)] DateTimeOffset Updated)
{
    public bool Finished => State is JobState.Done or JobState.Failed or JobState.Cancelled;
}
