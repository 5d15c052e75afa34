using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Grid.Training;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Silo.Http;
using UnleashingTransformers.Silo.Roles;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Silo;

/// <summary>
/// One silo process: an Orleans silo with the grain classes of its roles, on a .NET Generic Host (a web
/// host with the gateway and dashboard when it has the gateway role). Everything that can fail for a
/// user's reason (config, model files, the cluster store) is checked before the host starts, so it fails
/// with one line instead of a host error dump. SIGTERM/SIGINT stop it gracefully: canvas jobs save the
/// step they reached (another canvas silo, or this one restarted, goes on), the trainer stops between steps.
/// </summary>
public static class SiloHost
{
    /// <summary>How long a stopping silo has to persist its canvas jobs and leave the cluster (Kubernetes'
    /// grace period must be longer).</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(SiloConfig config, CancellationToken cancel = default)
    {
        // A canvas silo blends image strips on many threads for weeks: freed strips go back to the OS. (Not on
        // window silos: their decodes' activations would be mapped afresh each time, measured 30 % slower.)
        if (config.Has("canvas") && !config.Has("window")) _ = Torch.Interop.HostAllocator.ReturnLargeBlocks();
        if (config.Threads > 0)
        {
            torch.set_num_threads(config.Threads);
            torch.set_blas_threads(config.Threads);
        }
        var device = Device.Parse(config.Device);
        if (device.Type == DeviceType.CUDA && !torch.cuda.is_available())
            throw new ArgumentException($"Device {device}: this libtorch has no CUDA device; build against a CUDA libtorch (README) or use cpu");
        if (config.Cluster.Provider == "redis")
            await RedisCheck.ReachableAsync(RedisEndpoint.Options(config.Cluster.Redis, config.Cluster.RedisPasswordFile), "Cluster:Redis");
        var tls = config.Cluster.Tls.Enabled ? ClusterTls.Load(config.Cluster.Tls) : null;
        if (tls is null && config.Cluster.Provider == "redis" && config.Cluster.OffLoopback)
            Console.Error.WriteLine("silo: Cluster:Insecure=true: the silo and Orleans gateway ports take no credential; anyone who reaches them joins the cluster");
        var precision = Enum.Parse<InferencePrecision>(config.Models.Precision, ignoreCase: true);
        if ((config.Has("window") || config.Has("canvas")) && Bf16Support.Warning(precision, device) is { } slow)
            Console.Error.WriteLine($"silo: {slow.Replace("--precision", "Models:Precision", StringComparison.Ordinal)}");
        var replicas = config.Has("window") || config.Has("canvas")
            ? new PriorReplicas(config.Models.Prior, config.Models.Heads, device, precision)
            : null;
        var prior = replicas?.Describe();
        using var telemetry = TelemetryExport.Start(config.Telemetry.OtlpEndpoint, config.Telemetry.ServiceName, config.Telemetry.ExportIntervalMs);

        // Window role: the replicas are loaded before the silo joins, so a joined window silo can serve.
        Func<string?, ReplicaModel> load = config.Window.SimulatedBatchMs is { } ms
            ? path => new ReplicaModel(new SimulatedDenoiser(prior!.WindowLength, prior.CodebookSize, TimeSpan.FromMilliseconds(ms)), ModelVersion.OfFile(path ?? config.Models.Prior))
            : path => replicas!.Load(path);
        // The window silos' VQ-GAN decodes finished canvases, tile by tile, beside the window passes.
        await using var replicaHost = config.Has("window")
            ? new ReplicaHost(load, config.Window.Replicas, config.Window.MaxBatch, TimeSpan.FromMilliseconds(config.Window.MaxWaitMs), config.Device,
                new TileDecoder(config.Models.VqGan, device, config.Window.Replicas, prior!.CodebookSize))
            : null;
        // Canvas role: each job calls the cluster's replica grains (resolved once the host is built); it loads no model.
        IServiceProvider? services = null;
        var timeout = TimeSpan.FromSeconds(config.Canvas.RequestTimeoutSeconds);
        var poolOptions = new WindowPoolOptions { Timeout = timeout, Retries = config.Canvas.Retries, WaitForReplicas = timeout };
        using var canvas = config.Has("canvas")
            ? new CanvasRuntime(prior!, config.Canvas, config.StateDirectory,
                (model, flow) => new ClusterJobReplicas(services!.GetRequiredService<IGrainFactory>(), services!.GetRequiredService<ReplicaDirectory>(), prior!, model, flow, poolOptions))
            : null;

        // Gateway silos and silos with an ops port are web hosts; the rest a plain host.
        var urls = new List<string>();
        if (config.Has("gateway")) urls.Add($"http://{config.Gateway.Host}:{config.Gateway.Port}");
        if (config.Ops.Port > 0) urls.Add($"http://{config.Ops.Host}:{config.Ops.Port}");
        IHostApplicationBuilder builder;
        if (urls.Count > 0)
        {
            var web = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "ut-silo", ContentRootPath = AppContext.BaseDirectory });
            web.WebHost.UseUrls([.. urls]);
            if (config.Ops.Port > 0) MetricsEndpoint.AddServices(web.Services);
            if (config.Has("gateway"))
            {
                // The OpenAPI document describes bodies as the API writes them (GatewayApi.Json's names and enums).
                // Orleans' dashboard has its own page and calls: not part of the API.
                web.Services.AddOpenApi(o => o.ShouldInclude = d => d.RelativePath?.StartsWith("dashboard", StringComparison.Ordinal) != true);
                web.Services.ConfigureHttpJsonOptions(o =>
                {
                    o.SerializerOptions.PropertyNamingPolicy = GatewayApi.Json.PropertyNamingPolicy;
                    o.SerializerOptions.NumberHandling = GatewayApi.Json.NumberHandling;
                    o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase));
                });
            }
            builder = web;
        }
        else
        {
            builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "ut-silo", ContentRootPath = AppContext.BaseDirectory });
        }
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        // The watchdog warns at every start that its participant check "has not completed" for minutes: a
        // measurement artefact of the first check, harmless, and it would read as a fault.
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
        // "Silo not running with ServerGC": workstation GC is chosen, for a box shared by several processes.
        builder.Logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);
        // A peer that died shows as refused connections, with stack traces, until membership declares it dead.
        builder.Logging.AddFilter("Orleans.Runtime.Messaging", LogLevel.Error);
        builder.Logging.AddFilter("Orleans.Runtime.MembershipService.SiloHealthMonitor", LogLevel.Error);
        // A failed start is reported once, as the one error line below, not as the host's stack dump.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.UseOrleans(silo => OrleansSetup.Configure(silo, config, tls));
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton(config.Canvas);
        builder.Services.AddSingleton<ReplicaDirectory>();
        if (replicaHost is not null) builder.Services.AddSingleton(replicaHost);
        if (canvas is not null)
        {
            builder.Services.AddSingleton(canvas);
            builder.Services.AddHostedService<JobKicker>();
        }
        if (config.Has("trainer"))
        {
            builder.Services.AddSingleton(sp => ActivatorUtilities.CreateInstance<TrainerRun>(sp, config.Trainer, config.Device));
            builder.Services.AddHostedService<TrainerRole>();
        }

        IHost host;
        if (builder is WebApplicationBuilder webBuilder)
        {
            var app = webBuilder.Build();
            BrowserGuards.Use(app, config);
            PortAccess.Use(app, config);
            ProbeEndpoints.Map(app, config);
            if (config.Ops.Port > 0) MetricsEndpoint.Map(app);
            if (config.Has("gateway"))
            {
                GatewayApi.Map(app);
                BrowserGuards.MapSession(app, config);
            }
            host = app;
        }
        else
        {
            host = ((HostApplicationBuilder)builder).Build();
        }
        services = host.Services;
        var failed = false;
        try
        {
            await host.StartAsync(cancel);
            if (replicaHost is not null)
                for (var i = 0; i < replicaHost.Count; i++)
                    Console.WriteLine($"silo: window replica {OrleansSetup.SiloName(config)}/{i} serving model {replicaHost.Version(i)} on {config.Device}");
            Console.WriteLine($"silo: started {OrleansSetup.SiloName(config)} (roles {string.Join(", ", config.Roles)}, cluster {config.Cluster.Provider}" +
                $"{(tls is not null ? ", mutual TLS" : "")}" +
                $"{(config.Has("gateway") ? $", gateway http://{config.Gateway.Host}:{config.Gateway.Port}" : "")}" +
                $"{(config.Ops.Port > 0 ? $", ops http://{config.Ops.Host}:{config.Ops.Port}" : "")})");
            await host.WaitForShutdownAsync(cancel);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Console.Error.WriteLine($"ut: error: silo did not start: {e.GetBaseException().Message}");
            failed = true;
        }
        finally
        {
            if (host is IAsyncDisposable d) await d.DisposeAsync(); else host.Dispose();
            for (var i = 0; i < (replicaHost?.Count ?? 0); i++)
            {
                var (batches, requests) = replicaHost!.Served(i);
                Console.WriteLine($"silo: window replica {OrleansSetup.SiloName(config)}/{i} served {requests} requests in {batches} batches");
            }
        }
        Console.WriteLine("silo: stopped");
        return failed ? 1 : 0;
    }
}
