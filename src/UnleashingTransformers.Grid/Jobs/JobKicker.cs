using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Storage;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// Wakes unfinished jobs when this canvas silo starts and whenever a silo is declared dead: each is
/// activated (on a live canvas silo) and resumes from its last saved step. Reminders alone would take a
/// minute or more; this takes as long as membership needs to notice the death. A job whose state cannot
/// be read is marked failed in the index, with the reason, and the others go on; one whose storage is out of
/// reach is left to its reminder.
/// </summary>
public sealed class JobKicker(IClusterMembershipService membership, IGrainFactory grains, ILogger<JobKicker> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        HashSet<SiloAddress>? dead = null;
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stoppingToken))
            {
                var now = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Dead).Select(m => m.SiloAddress).ToHashSet();
                if (dead is null || now.Except(dead).Any()) await KickAsync();
                dead = now;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    private static bool Unreachable(Exception e) => e is StorageUnavailableException or TimeoutException || e.InnerException is { } inner && Unreachable(inner);

    private async Task KickAsync()
    {
        var index = grains.GetGrain<IJobIndexGrain>(0);
        string[] unfinished;
        try
        {
            unfinished = await index.UnfinishedAsync();
        }
        catch (Exception e)
        {
            log.LogWarning("job index unreachable, no job resumed now: {Error}", e.Message);
            return;
        }
        await Task.WhenAll(unfinished.Select(async id =>
        {
            try
            {
                if (!await grains.GetGrain<ICanvasJobGrain>(id).ResumeAsync())
                    await index.FailedAsync(id, $"job {id}: its saved state is missing");
            }
            catch (Exception e) when (Unreachable(e))
            {
                // Storage is out: the job is not broken, its keep-alive reminder wakes it once storage is back.
                log.LogWarning("job {Id}: not resumed now, storage is out of reach: {Error}", id, e.GetBaseException().Message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogWarning("job {Id}: cannot be resumed: {Error}", id, e.Message);
                await index.FailedAsync(id, $"job {id}: its saved state is unreadable ({e.GetBaseException().Message})");
            }
        }));
    }
}
