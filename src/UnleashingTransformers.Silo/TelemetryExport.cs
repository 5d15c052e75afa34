using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using UnleashingTransformers.Grid.Telemetry;

namespace UnleashingTransformers.Silo;

/// <summary>
/// Sends the project's spans and metrics (<see cref="GridTelemetry"/>) and Orleans' grain-call spans and
/// metrics to an OTLP/HTTP endpoint, when
/// one is configured; with none, nothing is collected or sent. Disposing flushes what is pending.
/// </summary>
public sealed class TelemetryExport : IDisposable
{
    /// <summary>Orleans' spans of grain calls (the ones that carry a trace from silo to silo) and its meter.</summary>
    public const string OrleansApplicationSource = "Microsoft.Orleans.Application";
    public const string OrleansMeter = "Microsoft.Orleans";
    /// <summary>The gateway's HTTP server spans (the root of a job's trace: POST /jobs).</summary>
    public const string AspNetCoreSource = "Microsoft.AspNetCore";

    private readonly TracerProvider _traces;
    private readonly MeterProvider _metrics;

    private TelemetryExport(TracerProvider traces, MeterProvider metrics) => (_traces, _metrics) = (traces, metrics);

    public static TelemetryExport? Start(string? endpoint, string serviceName, int exportIntervalMs = 5000)
    {
        if (string.IsNullOrWhiteSpace(endpoint)) return null;
        var root = endpoint.TrimEnd('/');
        var resource = ResourceBuilder.CreateDefault().AddService(serviceName, serviceInstanceId: $"{Environment.MachineName}-{Environment.ProcessId}");
        var traces = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource(GridTelemetry.Name, OrleansApplicationSource, AspNetCoreSource)
            .AddOtlpExporter(o => { o.Endpoint = new Uri($"{root}/v1/traces"); o.Protocol = OtlpExportProtocol.HttpProtobuf; })
            .Build();
        var metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(GridTelemetry.Name, OrleansMeter)
            .AddOtlpExporter((o, reader) =>
            {
                o.Endpoint = new Uri($"{root}/v1/metrics");
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = exportIntervalMs;
            })
            .Build();
        return new TelemetryExport(traces, metrics);
    }

    public void Dispose()
    {
        _traces.ForceFlush(5000);
        _metrics.ForceFlush(5000);
        _traces.Dispose();
        _metrics.Dispose();
    }
}
