using Orleans.Concurrency;

namespace UnleashingTransformers.Grid.Contracts;

/// <summary>The training run of a trainer silo (key <c>"{silo}/trainer"</c>, pinned there).</summary>
public interface ITrainerGrain : IGrainWithStringKey
{
    /// <summary>Starts (or keeps running) the silo's configured run, from its newest complete checkpoint.</summary>
    Task<TrainerStatus> StartAsync();
    Task<TrainerStatus> StopAsync();
    [AlwaysInterleave]
    Task<TrainerStatus> StatusAsync();
}
