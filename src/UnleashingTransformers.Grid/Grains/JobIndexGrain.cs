using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;

namespace UnleashingTransformers.Grid.Grains;

/// <summary>A job in the index: when it came, when it ended, and an error the index itself recorded
/// (a job whose state could not be read).</summary>
[GenerateSerializer]
public sealed class JobEntry
{
    [Id(0)] public string Id { get; set; } = "";
    [Id(1)] public DateTimeOffset Created { get; set; }
    [Id(2)] public DateTimeOffset? Finished { get; set; }
    [Id(3)] public string? Error { get; set; }
    [Id(4)] public JobPriority Priority { get; set; }
}

[GenerateSerializer]
public sealed class JobIndexState
{
    [Id(0)] public List<JobEntry> Jobs { get; set; } = [];
}

/// <summary>
/// The cluster's job list: admits jobs while fewer than <c>Canvas:MaxPending</c> of their priority are unfinished, pages
/// them newest first, names the unfinished ones to resume, and removes finished jobs beyond
/// <c>Canvas:KeepFinished</c> or older than <c>Canvas:KeepFinishedHours</c> (their state and image too),
/// so what a silo holds does not grow with the number of jobs it ever ran.
/// </summary>
public sealed class JobIndexGrain(
    [PersistentState("index", CanvasRuntime.Storage)] IPersistentState<JobIndexState> index,
    CanvasSettings settings) : Grain, IJobIndexGrain
{
    private List<JobEntry> Jobs => index.State.Jobs;

    public async Task<Admission> AdmitAsync(string id, JobPriority priority)
    {
        if (Jobs.Any(j => j.Id == id)) return Admission.Accepted;
        if (Jobs.Count(j => j.Finished is null && j.Priority == priority) >= settings.MaxPending) return Admission.QueueFull;
        Jobs.Add(new JobEntry { Id = id, Created = DateTimeOffset.UtcNow, Priority = priority });
        Prune();
        await index.WriteStateAsync();
        return Admission.Accepted;
    }

    public async Task RemoveAsync(string id)
    {
        if (Jobs.RemoveAll(j => j.Id == id) > 0) await index.WriteStateAsync();
    }

    public async Task FinishedAsync(string id)
    {
        if (Jobs.Find(j => j.Id == id) is not { } entry || entry.Finished is not null) return;
        entry.Finished = DateTimeOffset.UtcNow;
        Prune();
        await index.WriteStateAsync();
    }

    public async Task FailedAsync(string id, string reason)
    {
        if (Jobs.Find(j => j.Id == id) is not { } entry) return;
        (entry.Finished, entry.Error) = (DateTimeOffset.UtcNow, reason);
        await index.WriteStateAsync();
    }

    public Task<string?> ErrorAsync(string id) => Task.FromResult(Jobs.Find(j => j.Id == id)?.Error);

    public Task<JobPage> ListAsync(int offset, int limit) =>
        Task.FromResult(new JobPage(Enumerable.Reverse(Jobs).Skip(Math.Max(0, offset)).Take(Math.Max(0, limit)).Select(j => j.Id).ToArray(), Jobs.Count));

    public Task<string[]> UnfinishedAsync() => Task.FromResult(Jobs.Where(j => j.Finished is null).Select(j => j.Id).ToArray());

    private void Prune()
    {
        var oldest = DateTimeOffset.UtcNow - TimeSpan.FromHours(settings.KeepFinishedHours);
        var finished = Jobs.Where(j => j.Finished is not null).OrderByDescending(j => j.Finished).ToList();
        foreach (var gone in finished.Skip(settings.KeepFinished).Concat(finished.Where(j => j.Finished < oldest)).Distinct().ToList())
        {
            Jobs.Remove(gone);
            // Not awaited: the job may be the caller, waiting on this very call.
            GrainFactory.GetGrain<ICanvasJobGrain>(gone.Id).ForgetAsync().Ignore();
        }
    }
}
