using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace UnleashingTransformers.Grid.Telemetry;

/// <summary>
/// The project's one ActivitySource and one Meter. Spans: <c>canvas.job</c> -> <c>canvas.step</c> ->
/// <c>window.batch</c> (the canvas's request, a client span) -> <c>window.serve</c> (on the replica that
/// ran it, a server span whose parent arrives in the message headers). Nothing here exports: the host
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
    public static readonly Gauge<double> JobProgress = Meter.CreateGauge<double>("ut.job.progress", "1", "fraction of a canvas job's steps done");

    private static readonly ConcurrentDictionary<object, Func<int>> QueueDepths = new();
    private static readonly ObservableGauge<int> QueueDepth = Meter.CreateObservableGauge("ut.window.queue_depth",
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

    /// <summary>Writes the current trace context into message headers (W3C traceparent/tracestate).</summary>
    public static void Inject(Activity? activity, IDictionary<string, object?> headers)
    {
        if (activity is null) return;
        DistributedContextPropagator.Current.Inject(activity, headers, static (carrier, key, value) =>
            ((IDictionary<string, object?>)carrier!)[key] = value);
    }

    /// <summary>Reads a parent context from message headers (values may arrive as UTF-8 bytes).</summary>
    public static ActivityContext Extract(IDictionary<string, object?>? headers)
    {
        if (headers is null) return default;
        DistributedContextPropagator.Current.ExtractTraceIdAndState(headers, static (object? carrier, string key, out string? value, out IEnumerable<string>? values) =>
        {
            values = null;
            value = ((IDictionary<string, object?>)carrier!).TryGetValue(key, out var v) ? v switch
            {
                byte[] b => System.Text.Encoding.UTF8.GetString(b),
                string s => s,
                _ => null,
            } : null;
        }, out var traceParent, out var traceState);
        return ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : default;
    }
}
