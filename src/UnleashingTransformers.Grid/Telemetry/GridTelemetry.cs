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

    private static readonly ConcurrentDictionary<object, (string model, Func<int> depth, Func<TimeSpan> oldest)> Queues = new();
    // Counted here and observed, not added to a Counter: a window silo loads its first model before the exporter listens.
    private static readonly ConcurrentDictionary<string, long> Loads = new(), Unloads = new();

    // The meter holds its instruments: an observable one needs no field of its own. Both are per model (tag
    // ut.model): what an autoscaler scales a model's window replicas on.
    static GridTelemetry()
    {
        Meter.CreateObservableGauge("ut.window.queue_depth", () => PerModel(q => q.Sum(x => x.depth())), "{request}",
            "window requests held by this process's replicas of a model and not yet computed");
        Meter.CreateObservableGauge("ut.window.queue_age", () => PerModel(q => q.Max(x => x.oldest().TotalSeconds)), "s",
            "how long the oldest window request held by this process's replicas of a model has waited");
        Meter.CreateObservableCounter("ut.model.loads", () => Loads.Select(p => new Measurement<long>(p.Value, ModelTag(p.Key))), "{load}",
            "times this process's replica host loaded a model (a tight memory budget shows as churn)");
        Meter.CreateObservableCounter("ut.model.unloads", () => Unloads.Select(p => new Measurement<long>(p.Value, ModelTag(p.Key))), "{unload}",
            "times this process's replica host unloaded a model");
    }

    /// <summary>Counts a load of <paramref name="model"/> in <c>ut.model.loads</c>.</summary>
    public static void CountLoad(string model) => Loads.AddOrUpdate(model, 1, (_, n) => n + 1);

    /// <summary>Counts an unload of <paramref name="model"/> in <c>ut.model.unloads</c>.</summary>
    public static void CountUnload(string model) => Unloads.AddOrUpdate(model, 1, (_, n) => n + 1);

    /// <summary>The tag a model's measurements carry.</summary>
    private static KeyValuePair<string, object?> ModelTag(string model) => new("ut.model", model);

    private static IEnumerable<Measurement<T>> PerModel<T>(Func<IEnumerable<(string model, Func<int> depth, Func<TimeSpan> oldest)>, T> value) where T : struct =>
        Queues.Values.GroupBy(q => q.model).Select(g => new Measurement<T>(value(g), ModelTag(g.Key)));

    /// <summary>Counts a queue of <paramref name="model"/>'s in <c>ut.window.queue_depth</c> and <c>ut.window.queue_age</c>
    /// until the returned handle is disposed.</summary>
    public static IDisposable TrackQueue(string model, Func<int> depth, Func<TimeSpan> oldest)
    {
        var key = new object();
        Queues[key] = (model, depth, oldest);
        return new Untrack(key);
    }

    private sealed class Untrack(object key) : IDisposable
    {
        public void Dispose() => Queues.TryRemove(key, out _);
    }
}
