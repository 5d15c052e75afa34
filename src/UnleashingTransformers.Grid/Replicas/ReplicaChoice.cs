using System.Diagnostics;
using Orleans.Runtime.Messaging;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Telemetry;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>
/// The replicas one job may call, and how a call to them survives failure: the live replicas whose silos list
/// the job's model (all, for a model only a trainer published), of one device class (the first class seen:
/// replicas of different devices may differ in the last bits), waited for while none is there; each call has a deadline, and a call that fails (its silo died, it timed out)
/// is sent again to another replica. Replica work (window passes, tile decodes) is a pure function of the
/// request, so a resend changes only latency.
/// </summary>
public sealed class ReplicaChoice(ReplicaDirectory directory, WindowPoolOptions options, string? model = null)
{
    private string? _deviceClass;

    /// <summary>Calls <paramref name="call"/> on <paramref name="replica"/>, and on failure on other replicas,
    /// up to the configured retries; a <see cref="ModelMismatchException"/> is the job's error once every
    /// replica refused.</summary>
    public async Task<T> CallAsync<T>(string span, ReplicaAddress replica, Func<ReplicaAddress, CancellationToken, Task<T>> call, CancellationToken cancel)
    {
        var failed = new HashSet<string>();
        ModelMismatchException? mismatch = null;
        for (var attempt = 0; ; attempt++)
        {
            using var activity = GridTelemetry.Source.StartActivity(span, ActivityKind.Client);
            activity?.SetTag("ut.replica", replica.Key);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            deadline.CancelAfter(options.Timeout);
            try
            {
                return await call(replica, deadline.Token);
            }
            catch (ModelMismatchException e)
            {
                // Other replicas may still hold the job's weights; if none does, this is the job's error.
                mismatch = e;
            }
            catch (Exception e) when (!cancel.IsCancellationRequested && Transient(e))
            {
                activity?.SetStatus(ActivityStatusCode.Error, e.Message);
                if (attempt >= options.Retries) throw new TimeoutException($"replica calls failed {attempt + 1} times (last: replica {replica.Key}: {e.Message})", e);
            }
            failed.Add(replica.Key);
            var others = await LiveAsync(failed, cancel, mismatch);
            replica = others[Random.Shared.Next(others.Count)];
        }
    }

    /// <summary>A silo died or a deadline passed: the same request may succeed elsewhere.</summary>
    private static bool Transient(Exception e) =>
        e is SiloUnavailableException or TimeoutException or OperationCanceledException or OrleansMessageRejectionException or ConnectionFailedException
        // The replica's silo left the cluster between the directory's look and the call.
        || (e is ArgumentException && e.Message.Contains("Could not find an implementation", StringComparison.Ordinal));

    /// <summary>The live replicas of the job's device class not in <paramref name="exclude"/>, waiting for one
    /// to appear (a window silo joining, or membership noticing the dead one) up to the configured time.</summary>
    public async Task<IReadOnlyList<ReplicaAddress>> LiveAsync(HashSet<string> exclude, CancellationToken cancel, ModelMismatchException? mismatch = null)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var all = directory.Current();
            IReadOnlyList<ReplicaAddress> live = model is null || !all.Any(r => r.Lists(model)) ? all : [.. all.Where(r => r.Lists(model))];
            _deviceClass ??= live.Select(r => ReplicaDirectory.DeviceClass(r.Device)).FirstOrDefault();
            var usable = live.Where(r => !exclude.Contains(r.Key) && ReplicaDirectory.DeviceClass(r.Device) == _deviceClass).ToList();
            if (usable.Count > 0) return usable;
            // Every replica refused the job's weights: waiting will not change that.
            if (mismatch is not null && live.All(r => exclude.Contains(r.Key))) throw mismatch;
            if (waited.Elapsed > options.WaitForReplicas)
                throw new TimeoutException(live.Count == 0
                    ? $"no window replicas in the cluster after {options.WaitForReplicas.TotalSeconds:F0} s: start a silo with the window role"
                    : $"no window replica answered after {options.WaitForReplicas.TotalSeconds:F0} s ({exclude.Count} failed)");
            if (exclude.Count > 0 && live.Count > 0 && live.All(r => exclude.Contains(r.Key))) exclude.Clear();
            await Task.Delay(200, cancel);
        }
    }
}
