using UnleashingTransformers.Grid.Contracts;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>The cluster holds Canvas:MaxPending unfinished jobs already.</summary>
public sealed class JobQueueFullException(string message) : Exception(message);

/// <summary>
/// How a job enters the cluster, for the gateway and for <c>ut submit --cluster</c> alike: a new id is
/// admitted by the job index (bounded queue), then the canvas job grain checks the spec and starts it;
/// a refused spec leaves nothing behind.
/// </summary>
public static class JobSubmission
{
    public static async Task<JobStatus> SubmitAsync(IGrainFactory grains, CanvasJobSpec spec)
    {
        var id = Guid.NewGuid().ToString("N")[..16];
        var index = grains.GetGrain<IJobIndexGrain>(0);
        if (await index.AdmitAsync(id) == Admission.QueueFull)
            throw new JobQueueFullException("too many jobs are waiting or running (Canvas:MaxPending): try again later");
        try
        {
            return await grains.GetGrain<ICanvasJobGrain>(id).SubmitAsync(spec, "");
        }
        catch
        {
            await index.RemoveAsync(id);
            throw;
        }
    }

    /// <summary>True for the error Orleans gives when no silo hosts the grain class (no canvas silo yet).</summary>
    public static bool NoSiloHosts(Exception e) => e is ArgumentException && e.Message.Contains("Could not find an implementation", StringComparison.Ordinal);
}
