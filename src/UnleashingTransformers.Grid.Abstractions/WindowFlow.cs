namespace UnleashingTransformers.Grid.Contracts;

/// <summary>Whose windows these are, for the replicas' fair share: the job, and its priority (weights:
/// <c>JobPriorities.Weight</c>).</summary>
[GenerateSerializer, Immutable]
public sealed record WindowFlow([property: Id(0)] string Job, [property: Id(1)] Jobs.JobPriority Priority)
{
    /// <summary>Windows of no job in particular (benchmarks, direct calls): one flow, interactive.</summary>
    public static readonly WindowFlow Anonymous = new("", Jobs.JobPriority.Interactive);
}
