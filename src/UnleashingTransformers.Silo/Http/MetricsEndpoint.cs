using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using UnleashingTransformers.Grid.Telemetry;

namespace UnleashingTransformers.Silo.Http;

/// <summary>
/// <c>/metrics</c> on the ops port in Prometheus' text format: the grid's meter (window queue depth, batch
/// sizes, times, tokens revealed; what autoscalers read) and Orleans' own. Its meter provider is a
/// singleton of the host, disposed with it.
/// </summary>
internal static class MetricsEndpoint
{
    public const string Path = "/metrics";

    public static void AddServices(IServiceCollection services) =>
        services.AddSingleton(_ => Sdk.CreateMeterProviderBuilder()
            .AddMeter(GridTelemetry.Name, TelemetryExport.OrleansMeter)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0)
            .Build());

    public static void Map(WebApplication app) =>
        app.MapPrometheusScrapingEndpoint(Path, app.Services.GetRequiredService<MeterProvider>(), null, null).ExcludeFromDescription();
}
