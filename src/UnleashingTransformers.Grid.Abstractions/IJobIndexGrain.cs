using UnleashingTransformers.Grid.Jobs;

namespace UnleashingTransformers.Grid.Contracts;

/// <summary>The list of jobs (one grain, key 0): admission against the pending-queue bound, paging,
/// the unfinished jobs to resume, and retention of finished ones.</summary>
public interface IJobIndexGrain : IGrainWithIntegerKey
{
    /// <summary>Takes the job into the list unless Canvas:MaxPending jobs of its priority are unfinished (each
    /// priority its own bound: a queue of batch jobs does not shut out interactive ones).</summary>
    Task<Admission> AdmitAsync(string id, JobPriority priority);
    Task RemoveAsync(string id);
    Task FinishedAsync(string id);
    Task FailedAsync(string id, string reason);
    Task<string?> ErrorAsync(string id);
    [ClientCallable]
    Task<JobPage> ListAsync(int offset, int limit);
    Task<string[]> UnfinishedAsync();
}
