using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace UnleashingTransformers.Grid.Telemetry;

/// <summary>
/// The project's one ActivitySource and one Meter. Spans: <c>gateway.submit</c> -> (Orleans' grain call
/// spans) -> <c>canvas.job</c> -> <c>canvas.step</c> -> <c>window.batch</c> (the canvas's call to a replica,
/// a client span) -> Orleans' server span of the replica grain on its silo; and <c>canvas.job</c> ->
/// <c>canvas.render</c> -> <c>decode.tile</c> -> the replica's decode of one tile. Orleans carries the trace
/// context across silos (activity propagation). Nothing here exports: the host
/// adds an OTLP exporter when an endpoint is configured; with no listener the calls cost next to nothing.
/// </summary>
public static class GridTelemetry
{
    public const string Name = "UnleashingTransformers";

    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    /// <summary>Tokens revealed by canvas jobs (rate = tokens/s).</summary>
    public static readonly Counter<long> TokensRevealed = Meter.CreateCounter<long>("ut.canvas.tokens", "{token}", "tokens revealed by canvas jobs");
    /// <summary>Window requests served by replicas.</summary>
    public static readonly Counter<long> WindowRequests = Meter.CreateCounter<long>("ut.window.requests", "{request}", "window requests served");
    public static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>("ut.window.batch_size", "{window}", "windows per replica forward pass");
    public static readonly Histogram<double> QueueTime = Meter.CreateHistogram<double>("ut.window.queue_time", "ms", "time a window request waited before its forward pass");
    public static readonly Histogram<double> ComputeTime = Meter.CreateHistogram<double>("ut.window.compute_time", "ms", "forward pass time of a window batch");
    public static readonly UpDownCounter<long> InFlight = Meter.CreateUpDownCounter<long>("ut.window.in_flight", "{request}", "window requests sent and not answered yet");
    public static readonly UpDownCounter<long> Replicas = Meter.CreateUpDownCounter<long>("ut.window.replicas", "{replica}", "model replicas serving window requests");
    /// <summary>Tiles of finished canvases decoded by this process's VQ-GAN.</summary>
    public static readonly Counter<long> DecodeTiles = Meter.CreateCounter<long>("ut.decode.tiles", "{tile}", "canvas tiles decoded");
    public static readonly Histogram<double> DecodeTime = Meter.CreateHistogram<double>("ut.decode.tile_time", "ms", "time to decode one canvas tile");
    public static readonly Gauge<double> JobProgress = Meter.CreateGauge<double>("ut.job.progress", "1", "fraction of a canvas job's steps done");

    private static readonly ConcurrentDictionary<object, Func<int>> QueueDepths = new();

    // The meter holds its instruments: an observable one needs no field of its own.
    static GridTelemetry() => Meter.CreateObservableGauge("ut.window.queue_depth",
        () => QueueDepths.Values.Sum(depth => depth()), "{request}", "window requests held by this process's replicas and not yet computed");

    /// <summary>Counts <paramref name="depth"/> in <c>ut.window.queue_depth</c> until the returned handle is disposed.</summary>
    public static IDisposable TrackQueueDepth(Func<int> depth)
    {
        var key = new object();
        QueueDepths[key] = depth;
        return new Untrack(key);
    }

    private sealed class Untrack(object key) : IDisposable
    {
        public void Dispose() => QueueDepths.TryRemove(key, out _);
    }
}
