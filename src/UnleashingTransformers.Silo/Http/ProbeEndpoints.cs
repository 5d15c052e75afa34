using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using UnleashingTransformers.Grid;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Grid.Storage;

namespace UnleashingTransformers.Silo.Http;

/// <summary>
/// What orchestrators ask every silo, on every port it serves: <c>/healthz</c> (the process answers) and
/// <c>/readyz</c> (this silo is an active member of the cluster, its grain storage answers, and a gateway has
/// canvas and window silos to send jobs to). A stopping silo is not ready, so Kubernetes takes it out of its Service first.
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

        var storage = app.Services.GetRequiredService<StorageHealth>();
        var redis = config.Cluster.Provider == "redis" ? new RedisProbe(RedisEndpoint.Options(config.Cluster.Redis, config.Cluster.RedisPasswordFile)) : null;

        app.MapGet(Health, () => Results.Text("ok"));
        app.MapGet(Ready, async () =>
        {
            var waiting = new List<string>();
            // Grain state lives there: a silo that cannot save it is not ready for new work.
            if (storage.FailingSince is { } since) waiting.Add($"grain storage failing for {(DateTimeOffset.UtcNow - since).TotalSeconds:F0} s");
            else if (redis is not null && !await redis.AnswersAsync()) waiting.Add("the cluster's redis-server does not answer");
            var status = membership.CurrentSnapshot.GetSiloStatus(self.SiloAddress);
            if (status != SiloStatus.Active) waiting.Add($"this silo is {status.ToString().ToLowerInvariant()}, not an active cluster member");
            if (config.Has(SiloRoles.Gateway))
            {
                if (!directory.AnySiloWith(SiloRoles.Canvas)) waiting.Add("no canvas silo in the cluster");
                if (directory.Current().Count == 0) waiting.Add("no window replica in the cluster");
            }
            return waiting.Count == 0
                ? Results.Text("ready")
                : Results.Json(new { error = $"not ready: {string.Join("; ", waiting)}" }, GatewayApi.Json, statusCode: 503);
        });
    }
}

/// <summary>Pings the cluster's redis-server on a connection of its own (made on first use, kept).</summary>
internal sealed class RedisProbe(StackExchange.Redis.ConfigurationOptions options)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);
    private readonly Lazy<Task<StackExchange.Redis.ConnectionMultiplexer>> _connection = new(() =>
    {
        var probe = options.Clone();
        (probe.AbortOnConnectFail, probe.ConnectTimeout, probe.ClientName) = (false, 1000, "ut-readyz");
        return StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(probe, TextWriter.Null);
    });

    public async Task<bool> AnswersAsync()
    {
        try
        {
            var redis = await _connection.Value.WaitAsync(Deadline);
            await redis.GetDatabase().PingAsync().WaitAsync(Deadline);
            return true;
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            return false;
        }
    }
}
