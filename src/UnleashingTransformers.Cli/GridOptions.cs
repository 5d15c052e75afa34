using UnleashingTransformers.Silo;

namespace UnleashingTransformers.Cli;

/// <summary>What the grid commands read the way a silo does: the OTLP endpoint comes from the same
/// environment variables as silo.json's overrides.</summary>
internal static class GridOptions
{
    public static TelemetryExport? TelemetryFromEnvironment(string serviceName) =>
        TelemetryExport.Start(Environment.GetEnvironmentVariable("UT__Telemetry__OtlpEndpoint"), serviceName,
            int.TryParse(Environment.GetEnvironmentVariable("UT__Telemetry__ExportIntervalMs"), out var ms) ? ms : 5000);
}
