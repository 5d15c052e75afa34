using UnleashingTransformers.Grid.Transports.RabbitMq;
using UnleashingTransformers.Silo;

namespace UnleashingTransformers.Cli;

/// <summary>What the grid commands read the way a silo does: broker login and the OTLP endpoint come
/// from the same environment variables as silo.json's overrides.</summary>
internal static class GridOptions
{
    public static BrokerSettings Broker(string uri, string flag)
    {
        var broker = new BrokerSettings
        {
            Uri = uri,
            User = Environment.GetEnvironmentVariable("UT__Broker__User"),
            Password = Environment.GetEnvironmentVariable("UT__Broker__Password"),
            Queue = Environment.GetEnvironmentVariable("UT__Broker__Queue") ?? new BrokerSettings().Queue,
            TlsServerName = Environment.GetEnvironmentVariable("UT__Broker__TlsServerName"),
            TlsCaFile = Environment.GetEnvironmentVariable("UT__Broker__TlsCaFile"),
        };
        broker.Validate(flag);
        return broker;
    }

    public static TelemetryExport? TelemetryFromEnvironment(string serviceName) =>
        TelemetryExport.Start(Environment.GetEnvironmentVariable("UT__Telemetry__OtlpEndpoint"), serviceName,
            int.TryParse(Environment.GetEnvironmentVariable("UT__Telemetry__ExportIntervalMs"), out var ms) ? ms : 5000);
}
