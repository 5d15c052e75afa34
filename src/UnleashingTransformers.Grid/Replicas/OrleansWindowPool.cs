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
    /// <summary>Most result bytes one call brings back: a step's windows go in several calls rather than one
    /// message near Orleans' size limit.</summary>
    public long MaxResultBytes { get; init; } = 512 << 10;
}

/// <summary>
/// Window passes on the cluster's window replica grains. A step's requests are split into contiguous batches
/// (in request order), at least one per replica and each bringing back at most
/// <see cref="WindowPoolOptions.MaxResultBytes"/>, dealt round the replicas, each sent through <see cref="ReplicaChoice"/> (deadline, resend elsewhere on
/// failure). Results come back in request order, never completion order. A job keeps to the model and weights
/// version <paramref name="model"/> names and to one device class.
/// </summary>
public sealed class OrleansWindowPool(IGrainFactory grains, ReplicaChoice replicas, PriorInfo prior, ModelKey model, WindowPoolOptions options, WindowFlow? flow = null) : IWindowPool
{
    private int _next;

    public int WindowLength => prior.WindowLength;
    public int CodebookSize => prior.CodebookSize;
    public int MaskId => prior.MaskId;
    public Corruption Corruption => prior.Corruption;

    public async Task<IReadOnlyList<WindowResult>> EvaluateAsync(IReadOnlyList<WindowRequest> requests, CancellationToken cancel = default)
    {
        if (requests.Count == 0) return [];
        var live = await replicas.LiveAsync(exclude: [], cancel);
        var resultBytes = requests.Sum(r => (long)r.Positions.Length * CodebookSize * sizeof(float));
        var parts = (int)Math.Min(requests.Count, Math.Max(live.Count, (resultBytes + options.MaxResultBytes - 1) / options.MaxResultBytes));
        var start = _next++;
        var calls = new Task<WindowResult[]>[parts];
        for (var i = 0; i < parts; i++)
        {
            // Contiguous chunks keep the request order; the starting replica rotates from call to call.
            var (from, to) = (requests.Count * i / parts, requests.Count * (i + 1) / parts);
            var chunk = requests.Skip(from).Take(to - from).ToArray();
            calls[i] = SendAsync(chunk, live[(start + i) % live.Count], cancel);
        }
        var answers = await Task.WhenAll(calls);
        return answers.SelectMany(a => a).ToList();
    }

    private async Task<WindowResult[]> SendAsync(WindowRequest[] chunk, ReplicaAddress replica, CancellationToken cancel)
    {
        GridTelemetry.InFlight.Add(chunk.Length);
        try
        {
            return await replicas.CallAsync("window.batch", replica, async (r, deadline) =>
            {
                var results = await grains.GetGrain<IWindowReplicaGrain>(r.Key).EvaluateAsync(model, flow ?? WindowFlow.Anonymous, chunk, deadline);
                return results.Length == chunk.Length ? results : throw new InvalidOperationException($"replica {r.Key} answered {results.Length} of {chunk.Length} windows");
            }, cancel);
        }
        finally
        {
            GridTelemetry.InFlight.Add(-chunk.Length);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
