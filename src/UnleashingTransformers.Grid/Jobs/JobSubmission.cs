using UnleashingTransformers.Grid.Contracts;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>The cluster holds Canvas:MaxPending unfinished jobs already.</summary>
public sealed class JobQueueFullException(string message) : Exception(message);

/// <summary>Job ids: what the cluster makes, and what it takes from a caller (in a path, a grain key).</summary>
public static class JobIds
{
    public const int MaxLength = 64;

    public static string New() => Guid.NewGuid().ToString("N")[..16];

    public static bool Valid(string id) => id.Length is > 0 and <= MaxLength && id.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');
}

/// <summary>
/// How a job enters the cluster, for the gateway and for <c>ut submit --cluster</c> alike: under a new id, the
/// canvas job grain checks the spec, has the job index admit it (bounded queue) and starts it; a refused spec
/// leaves nothing behind.
/// </summary>
public static class JobSubmission
{
    public static Task<JobStatus> SubmitAsync(IGrainFactory grains, CanvasJobSpec spec) => grains.GetGrain<ICanvasJobGrain>(JobIds.New()).SubmitAsync(spec);

    /// <summary>True for the error Orleans gives when no silo hosts the grain class (no canvas silo yet).</summary>
    public static bool NoSiloHosts(Exception e) => e is ArgumentException && e.Message.Contains("Could not find an implementation", StringComparison.Ordinal);
}
