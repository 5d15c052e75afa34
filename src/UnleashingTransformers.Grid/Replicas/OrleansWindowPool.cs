using System.Diagnostics;
using Orleans.Runtime.Messaging;
using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Telemetry;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Grid.Replicas;

/// <summary>How the canvas side of the grid calls window replicas.</summary>
public sealed record WindowPoolOptions
{
    /// <summary>Deadline of one call to a replica; past it the requests go to another replica.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Times a failed or timed-out call is sent again (to another replica where there is one).</summary>
    public int Retries { get; init; } = 3;
    /// <summary>How long to wait for a replica to appear before the job fails.</summary>
    public TimeSpan WaitForReplicas { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Window passes on the cluster's window replica grains. A step's requests are split into one batch per
/// replica (in request order), each call has a deadline, and a call that fails (its silo died, it timed
/// out) is sent again to another replica: window results are pure functions of the request, so a resend
/// changes only latency. Results come back in request order, never completion order. A job keeps to the
/// weights <paramref name="model"/> names and to one device class (replicas of different devices may
/// differ in the last bits).
/// </summary>
public sealed class OrleansWindowPool(IGrainFactory grains, ReplicaDirectory directory, PriorInfo prior, string model, WindowPoolOptions options) : IWindowPool
{
    private string? _deviceClass;
    private int _next;

    public int WindowLength => prior.WindowLength;
    public int CodebookSize => prior.CodebookSize;
    public int MaskId => prior.MaskId;
    public Corruption Corruption => prior.Corruption;

    public async Task<IReadOnlyList<WindowResult>> EvaluateAsync(IReadOnlyList<WindowRequest> requests, CancellationToken cancel = default)
    {
        if (requests.Count == 0) return [];
        var replicas = await ReplicasAsync(exclude: [], cancel);
        var parts = Math.Min(replicas.Count, requests.Count);
        var start = _next++;
        var calls = new Task<WindowResult[]>[parts];
        for (var i = 0; i < parts; i++)
        {
            // Contiguous chunks keep the request order; the starting replica rotates from call to call.
            var (from, to) = (requests.Count * i / parts, requests.Count * (i + 1) / parts);
            var chunk = requests.Skip(from).Take(to - from).ToArray();
            calls[i] = SendAsync(chunk, replicas[(start + i) % replicas.Count], cancel);
        }
        var answers = await Task.WhenAll(calls);
        return answers.SelectMany(a => a).ToList();
    }

    private async Task<WindowResult[]> SendAsync(WindowRequest[] chunk, ReplicaAddress replica, CancellationToken cancel)
    {
        var failed = new HashSet<string>();
        ModelMismatchException? mismatch = null;
        for (var attempt = 0; ; attempt++)
        {
            using var activity = GridTelemetry.Source.StartActivity("window.batch", ActivityKind.Client);
            activity?.SetTag("ut.replica", replica.Key);
            activity?.SetTag("ut.windows", chunk.Length);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            deadline.CancelAfter(options.Timeout);
            GridTelemetry.InFlight.Add(chunk.Length);
            try
            {
                var results = await grains.GetGrain<IWindowReplicaGrain>(replica.Key).EvaluateAsync(model, chunk, deadline.Token);
                if (results.Length != chunk.Length) throw new InvalidOperationException($"replica {replica.Key} answered {results.Length} of {chunk.Length} windows");
                return results;
            }
            catch (ModelMismatchException e)
            {
                // Other replicas may still hold the job's weights; if none does, this is the job's error.
                mismatch = e;
            }
            catch (Exception e) when (!cancel.IsCancellationRequested && Transient(e))
            {
                activity?.SetStatus(ActivityStatusCode.Error, e.Message);
                if (attempt >= options.Retries) throw new TimeoutException($"window requests failed {attempt + 1} times (last: replica {replica.Key}: {e.Message})", e);
            }
            finally
            {
                GridTelemetry.InFlight.Add(-chunk.Length);
            }
            failed.Add(replica.Key);
            var others = await ReplicasAsync(failed, cancel, mismatch);
            replica = others[Random.Shared.Next(others.Count)];
        }
    }

    /// <summary>A silo died or a deadline passed: the same requests may succeed elsewhere.</summary>
    private static bool Transient(Exception e) =>
        e is SiloUnavailableException or TimeoutException or OperationCanceledException or OrleansMessageRejectionException or ConnectionFailedException
        // The replica's silo left the cluster between the directory's look and the call.
        || (e is ArgumentException && e.Message.Contains("Could not find an implementation", StringComparison.Ordinal));

    /// <summary>The live replicas of the job's device class not in <paramref name="exclude"/>, waiting for one
    /// to appear (a window silo joining, or membership noticing the dead one) up to the configured time.</summary>
    private async Task<IReadOnlyList<ReplicaAddress>> ReplicasAsync(HashSet<string> exclude, CancellationToken cancel, ModelMismatchException? mismatch = null)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var live = directory.Current();
            _deviceClass ??= live.Select(r => ReplicaDirectory.DeviceClass(r.Device)).FirstOrDefault();
            var usable = live.Where(r => !exclude.Contains(r.Key) && ReplicaDirectory.DeviceClass(r.Device) == _deviceClass).ToList();
            if (usable.Count > 0) return usable;
            // Every replica refused the job's weights: waiting will not change that.
            if (mismatch is not null && live.All(r => exclude.Contains(r.Key))) throw mismatch;
            if (waited.Elapsed > options.WaitForReplicas)
                throw new TimeoutException(live.Count == 0
                    ? $"no window replicas in the cluster after {options.WaitForReplicas.TotalSeconds:F0} s: start a silo with the window role"
                    : $"no window replica answered after {options.WaitForReplicas.TotalSeconds:F0} s ({exclude.Count} failed)");
            if (exclude.Count > 0 && usable.Count == 0 && live.Count > 0 && live.All(r => exclude.Contains(r.Key))) exclude.Clear();
            await Task.Delay(200, cancel);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
