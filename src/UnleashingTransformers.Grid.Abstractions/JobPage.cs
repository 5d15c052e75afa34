namespace UnleashingTransformers.Grid.Jobs;

/// <summary>A page of jobs, newest first, and how many there are in all.</summary>
[GenerateSerializer, Immutable]
public sealed record JobPage([property: Id(0)] string[] Ids, [property: Id(1)] int Total);
