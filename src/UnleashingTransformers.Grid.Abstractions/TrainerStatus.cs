namespace UnleashingTransformers.Grid.Contracts;

/// <summary>What a trainer reports.</summary>
[GenerateSerializer, Immutable]
public sealed record TrainerStatus(
    [property: Id(0)] string Kind,
    [property: Id(1)] bool Running,
    [property: Id(2)] long LastCheckpoint,
    [property: Id(3)] string? LastCheckpointPath,
    [property: Id(4)] string? Error);
