using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace UnleashingTransformers.Grid.Storage;

/// <summary>Storage stayed out of reach longer than its patience; the state was not saved (nor read).</summary>
public sealed class StorageUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Grain storage that rides out an outage: a read, write or clear that fails for a reason that passes (redis
/// restarting or unreachable, a full disk) is tried again with backoff (0.2 s doubling to 5 s) for up to
/// <c>Cluster:StorageRetrySeconds</c>, then fails with <see cref="StorageUnavailableException"/>. Failures that do
/// not pass are not retried: another activation's write (<see cref="InconsistentStateException"/>) and state that
/// cannot be read. <see cref="StorageHealth"/> says whether storage is failing right now (for <c>/readyz</c>).
/// </summary>
public sealed class RetryingGrainStorage(IGrainStorage inner, StorageHealth health, TimeSpan patience, ILogger log) : IGrainStorage
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(5);

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        RunAsync(() => inner.ReadStateAsync(stateName, grainId, grainState), "read", grainId);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        RunAsync(() => inner.WriteStateAsync(stateName, grainId, grainState), "write", grainId);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        RunAsync(() => inner.ClearStateAsync(stateName, grainId, grainState), "clear", grainId);

    private async Task RunAsync(Func<Task> operation, string what, GrainId grain)
    {
        var (started, delay, failures) = (Stopwatch.StartNew(), FirstDelay, 0);
        while (true)
        {
            try
            {
                await operation();
                if (failures > 0) log.LogWarning("storage: the {What} of {Grain} went through after {Failures} failures in {Seconds:F1} s", what, grain, failures, started.Elapsed.TotalSeconds);
                health.Succeeded();
                return;
            }
            catch (Exception e) when (Passes(e))
            {
                health.Failed();
                if (failures++ == 0) log.LogWarning("storage: the {What} of {Grain} failed ({Error}); retrying for up to {Patience} s", what, grain, e.GetBaseException().Message,
                    patience.TotalSeconds);
                if (started.Elapsed + delay > patience)
                    throw new StorageUnavailableException($"job storage unreachable for {started.Elapsed.TotalSeconds:F0} s ({e.GetBaseException().Message})", e);
                await Task.Delay(delay);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxDelay.Ticks));
            }
        }
    }

    /// <summary>True for failures that pass: anything but a refused write, unreadable state or a caller's mistake.</summary>
    public static bool Passes(Exception e) =>
        e is not (InconsistentStateException or InvalidDataException or ArgumentException or OperationCanceledException or StorageUnavailableException or NotSupportedException)
        && e.GetType().Namespace?.StartsWith("Orleans.Serialization", StringComparison.Ordinal) != true;
}

/// <summary>Whether the silo's grain storage is failing right now: set by <see cref="RetryingGrainStorage"/>.</summary>
public sealed class StorageHealth
{
    private long _failingSince;

    /// <summary>When the current outage began (null: storage answers).</summary>
    public DateTimeOffset? FailingSince => Interlocked.Read(ref _failingSince) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    public void Failed() => Interlocked.CompareExchange(ref _failingSince, DateTimeOffset.UtcNow.UtcTicks, 0);

    public void Succeeded() => Interlocked.Exchange(ref _failingSince, 0);
}
