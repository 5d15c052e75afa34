namespace UnleashingTransformers.Grid.Contracts;

/// <summary>What a trainer silo is to run: rank <see cref="Rank"/> of <see cref="World"/> in generation
/// <see cref="Generation"/>, meeting at <see cref="Store"/>; or nothing yet (<see cref="Wait"/>); or nothing more,
/// the run being over (<see cref="Finished"/>).</summary>
[GenerateSerializer, Immutable]
public sealed record RankAssignment(
    [property: Id(0)] long Generation,
    [property: Id(1)] int Rank,
    [property: Id(2)] int World,
    [property: Id(3)] string Store,
    [property: Id(4)] bool Finished)
{
    public static RankAssignment Wait { get; } = new(0, 0, 0, "", false);
    public static RankAssignment Over { get; } = new(0, 0, 0, "", true);
    public bool Assigned => Generation > 0;
}
