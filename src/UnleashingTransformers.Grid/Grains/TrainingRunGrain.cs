using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Training;

namespace UnleashingTransformers.Grid.Grains;

/// <summary>A data-parallel training run's roster (<see cref="RankRoster"/>), in memory: a new activation forms a new
/// generation from the silos that check in, which resume from the run's newest checkpoint.</summary>
public sealed class TrainingRunGrain : Grain, ITrainingRunGrain
{
    private readonly RankRoster _roster = new();

    public Task<RankAssignment> CheckInAsync(TrainerCheckIn checkIn) => Task.FromResult(_roster.CheckIn(checkIn, DateTime.UtcNow));

    public Task ReportAsync(string silo, long generation, bool finished)
    {
        _roster.Report(silo, generation, finished, DateTime.UtcNow);
        return Task.CompletedTask;
    }
}
