namespace UnleashingTransformers.Grid.Contracts;

/// <summary>What a window replica grain says of itself: the models its silo holds loaded now (most recently used
/// first), its device, and the batches and requests it served.</summary>
[GenerateSerializer, Immutable]
public sealed record ReplicaStatus(
    [property: Id(0)] string Key,
    [property: Id(1)] ModelKey[] Loaded,
    [property: Id(2)] string Device,
    [property: Id(3)] long Batches,
    [property: Id(4)] long Requests);
