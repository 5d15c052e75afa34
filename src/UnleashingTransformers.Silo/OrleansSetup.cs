using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Metadata;
using Orleans.Runtime.Hosting;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Serialization;
using Orleans.Storage;
using UnleashingTransformers.Grid;
using UnleashingTransformers.Grid.Grains;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Placement;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Grid.Security;
using UnleashingTransformers.Grid.Storage;

namespace UnleashingTransformers.Silo;

/// <summary>
/// The Orleans side of a silo, from its configuration: clustering, grain state and reminders of the
/// chosen provider; membership tuned to declare a killed silo dead in about a second; the grain classes
/// of its roles only (a silo without the window role never hosts a replica); the grain class properties
/// in the cluster manifest that tell canvases how many replicas it serves (and the same as silo metadata);
/// silo-pinned placement; trace propagation; mutual TLS where the cluster has certificates; the dashboard on
/// gateway silos.
/// </summary>
public static class OrleansSetup
{
    /// <summary>Which grain classes each role brings.</summary>
    private static readonly (string role, Type grain)[] RoleGrains =
    [
        (SiloRoles.Window, typeof(WindowReplicaGrain)),
        (SiloRoles.Canvas, typeof(CanvasJobGrain)),
        (SiloRoles.Canvas, typeof(JobIndexGrain)),
        (SiloRoles.Gateway, typeof(JobIndexGrain)),
        (SiloRoles.Trainer, typeof(TrainerGrain)),
    ];

    /// <summary>The role a grain class stands for, as the cluster manifest tells other silos.</summary>
    private static readonly Dictionary<Type, string> GrainRoles = new()
    {
        [typeof(WindowReplicaGrain)] = SiloRoles.Window,
        [typeof(CanvasJobGrain)] = SiloRoles.Canvas,
        [typeof(TrainerGrain)] = SiloRoles.Trainer,
    };

    /// <summary>The grain store itself (redis or files), under the retries grains see as <see cref="CanvasRuntime.Storage"/>.</summary>
    private const string StoreName = "ut-store";

    public static string SiloName(SiloConfig config) =>
        string.IsNullOrEmpty(config.Cluster.SiloName) ? $"ut-{Environment.MachineName}-{Environment.ProcessId}" : config.Cluster.SiloName;

    /// <summary>True inside a Kubernetes pod, where Orleans' Kubernetes hosting sets the silo's name and address.</summary>
    public static bool InKubernetes => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST"));

    public static void Configure(ISiloBuilder silo, SiloConfig config, ClusterTls? tls)
    {
        var cluster = config.Cluster;
        silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (cluster.ClusterId, cluster.ServiceId));
        silo.Configure<SiloOptions>(o => o.SiloName = SiloName(config));
        silo.Configure<SiloMessagingOptions>(o => o.MaxMessageBodySize = cluster.MaxMessageBytes);
        if (cluster.Provider == "redis")
        {
            var redis = RedisEndpoint.Options(cluster.Redis, cluster.RedisPasswordFile);
            silo.UseRedisClustering(o => o.ConfigurationOptions = redis);
            silo.AddRedisGrainStorage(StoreName, o => (o.ConfigurationOptions, o.DeleteStateOnClear) = (redis, true));
            silo.UseRedisReminderService(o => o.ConfigurationOptions = redis);
            if (InKubernetes)
            {
                // The pod's name, IP and orleans/* labels name the silo, its address and the cluster; the
                // ports stay those of the configuration (the manifests' containerPorts match them).
                silo.UseKubernetesHosting();
                silo.Configure<EndpointOptions>(o => (o.SiloPort, o.GatewayPort) = (cluster.SiloPort, cluster.GatewayPort));
            }
            else silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort);
        }
        else
        {
            silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
            var directory = Path.Combine(config.StateDirectory, "grains");
            silo.Services.AddGrainStorage(StoreName, (sp, _) => new FileGrainStorage(directory, sp.GetRequiredService<Serializer>()));
            silo.UseInMemoryReminderService();
        }
        tls?.Configure(silo);
        // Job state is tokens: Orleans' binary serializer, not the default JSON.
        silo.Services.AddKeyedSingleton<IGrainStorageSerializer, OrleansGrainStorageSerializer>(StoreName);
        // Grains use the store through retries that ride out an outage (redis restarting, a full disk).
        silo.Services.AddSingleton<StorageHealth>();
        silo.Services.AddKeyedSingleton<IGrainStorage>(CanvasRuntime.Storage, (sp, _) => new RetryingGrainStorage(
            sp.GetRequiredKeyedService<IGrainStorage>(StoreName), sp.GetRequiredService<StorageHealth>(), TimeSpan.FromSeconds(cluster.StorageRetrySeconds),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<RetryingGrainStorage>()));
        // Outside processes call the job API only.
        silo.AddIncomingGrainCallFilter<ClientCallFilter>();
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            // Defaults declare a killed silo dead after ~11 s, a hung one after ~60 s; the grid wants seconds.
            o.ProbeTimeout = TimeSpan.FromSeconds(1);
            o.NumMissedProbesLimit = 2;
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
        });
        silo.AddPlacementDirector<SiloPinnedPlacement, SiloPinnedPlacementDirector>();
        // What canvases need to know of this silo's replicas travels in the cluster manifest (see
        // ReplicaDirectory); the same as silo metadata, for the dashboard and operators.
        var replicas = config.Has(SiloRoles.Window) ? config.Window.Replicas : 0;
        silo.Services.AddSingleton<IGrainPropertiesProvider>(new GridGrainProperties(GrainRoles, replicas, config.Device,
            config.Has(SiloRoles.Window) || config.Has(SiloRoles.Canvas) ? [.. config.Models.Select(m => m.Entry().Key)] : []));
        silo.UseSiloMetadata(new Dictionary<string, string>
        {
            [ReplicaDirectory.ReplicasKey] = replicas.ToString(),
            [ReplicaDirectory.DeviceKey] = config.Device,
            ["ut.roles"] = string.Join(",", config.Roles),
        });
        silo.AddActivityPropagation();
        silo.Configure<GrainTypeOptions>(o =>
        {
            foreach (var grain in RoleGrains.Select(r => r.grain).Distinct())
                if (!RoleGrains.Any(r => r.grain == grain && config.Has(r.role))) o.Classes.Remove(grain);
        });
        if (config.Has(SiloRoles.Gateway)) silo.AddDashboard();
    }
}
