namespace UnleashingTransformers.Grid.Contracts;

/// <summary>
/// A data-parallel training run across trainer silos (key: the run's name, silo.json's <c>Trainer:Run</c>): the
/// silos check in every second; it forms a generation of ranks from those alive (between the run's minimum and
/// maximum), names rank 0's store, and when a rank is lost forms the next generation from the silos still there,
/// each resuming from the run's newest checkpoint.
/// </summary>
public interface ITrainingRunGrain : IGrainWithStringKey
{
    /// <summary>A trainer silo is here; what it is to run now: a generation's rank, the run's end, or nothing yet.</summary>
    Task<RankAssignment> CheckInAsync(TrainerCheckIn checkIn);

    /// <summary>A rank's run of <paramref name="generation"/> ended: every step done, or not (a rank left, an error).</summary>
    Task ReportAsync(string silo, long generation, bool finished);
}
