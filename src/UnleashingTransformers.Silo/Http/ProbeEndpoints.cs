using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using UnleashingTransformers.Grid.Replicas;

namespace UnleashingTransformers.Silo.Http;

/// <summary>
/// What orchestrators ask every silo, on every port it serves: <c>/healthz</c> (the process answers) and
/// <c>/readyz</c> (this silo is an active member of the cluster, and a gateway has canvas and window silos
/// to send jobs to). A stopping silo is not ready, so Kubernetes takes it out of its Service first.
/// </summary>
internal static class ProbeEndpoints
{
    public const string Health = "/healthz";
    public const string Ready = "/readyz";

    public static void Map(WebApplication app, SiloConfig config)
    {
        var membership = app.Services.GetRequiredService<IClusterMembershipService>();
        var self = app.Services.GetRequiredService<ILocalSiloDetails>();
        var directory = app.Services.GetRequiredService<ReplicaDirectory>();

        app.MapGet(Health, () => Results.Text("ok"));
        app.MapGet(Ready, () =>
        {
            var waiting = new List<string>();
            var status = membership.CurrentSnapshot.GetSiloStatus(self.SiloAddress);
            if (status != SiloStatus.Active) waiting.Add($"this silo is {status.ToString().ToLowerInvariant()}, not an active cluster member");
            if (config.Has("gateway"))
            {
                if (!directory.AnySiloWith("canvas")) waiting.Add("no canvas silo in the cluster");
                if (directory.Current().Count == 0) waiting.Add("no window replica in the cluster");
            }
            return waiting.Count == 0
                ? Results.Text("ready")
                : Results.Json(new { error = $"not ready: {string.Join("; ", waiting)}" }, GatewayApi.Json, statusCode: 503);
        });
    }
}
