using Orleans.Placement;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Placement;
using UnleashingTransformers.Grid.Training;

namespace UnleashingTransformers.Grid.Grains;

/// <summary>Control of a trainer silo's run, keyed <c>"{silo}/trainer"</c> and pinned there (its data and
/// checkpoints live on that silo's volume).</summary>
[SiloPinnedPlacement, KeepAlive, Immovable]
public sealed class TrainerGrain(TrainerRun run) : Grain, ITrainerGrain
{
    public Task<TrainerStatus> StartAsync() => Task.FromResult(run.Start());

    public Task<TrainerStatus> StopAsync() => run.StopAsync();

    public Task<TrainerStatus> StatusAsync() => Task.FromResult(run.Status);
}
