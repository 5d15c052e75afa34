namespace UnleashingTransformers.Grid.Contracts;

/// <summary>A trainer silo checking in with its run: who it is (its silo address), where its store would listen were it rank 0, the ranks
/// the run may have, and the generation it runs or last ran (0: none), which a new roster numbers on from.</summary>
[GenerateSerializer, Immutable]
public sealed record TrainerCheckIn(
    [property: Id(0)] string Silo,
    [property: Id(1)] string Host,
    [property: Id(2)] int StorePort,
    [property: Id(3)] int MinRanks,
    [property: Id(4)] int MaxRanks,
    [property: Id(5)] long Generation);
