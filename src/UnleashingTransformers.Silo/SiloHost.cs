using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UnleashingTransformers.Grid;
using UnleashingTransformers.Grid.Contracts;
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

    /// <summary>Checks, then builds and runs the silo until it is stopped: the steps in order.</summary>
    public static async Task<int> RunAsync(SiloConfig config, CancellationToken cancel = default)
    {
        var device = PrepareMachine(config);
        var tls = await CheckClusterAsync(config);
        var listed = config.Models.Select(m => m.Entry()).ToList();
        WarnOfSlowPrecision(config, listed, device);
        using var telemetry = TelemetryExport.Start(config.Telemetry.OtlpEndpoint, config.Telemetry.ServiceName, config.Telemetry.ExportIntervalMs);

        // The grain factory is the host's (resolved once it is built): the catalog and the canvas role call through it.
        IServiceProvider? services = null;
        IGrainFactory Grains() => services!.GetRequiredService<IGrainFactory>();
        var catalog = new ModelCatalog(listed, () => Grains().GetGrain<IModelRegistryGrain>(0).PublishedAsync());
        await using var replicaHost = await WindowReplicasAsync(config, listed, device);
        using var canvas = CanvasRole(config, catalog, listed, device, () => services!);

        var builder = CreateBuilder(config);
        ConfigureLogging(builder.Logging);
        AddServices(builder, config, tls, catalog, replicaHost, canvas);
        var host = Build(builder, config);
        services = host.Services;
        return await ServeAsync(host, config, listed, replicaHost, tls is not null, cancel);
    }

    /// <summary>The process's allocator and threads, and the device, which must exist.</summary>
    private static Device PrepareMachine(SiloConfig config)
    {
        // A canvas silo blends image strips on many threads for weeks: freed strips go back to the OS. (Not on
        // window silos: their decodes' activations would be mapped afresh each time, measured 30 % slower.)
        if (config.Has(SiloRoles.Canvas) && !config.Has(SiloRoles.Window)) _ = Torch.Interop.HostAllocator.ReturnLargeBlocks();
        if (config.Threads > 0)
        {
            torch.set_num_threads(config.Threads);
            torch.set_blas_threads(config.Threads);
        }
        var device = Device.Parse(config.Device);
        if (device.Type == DeviceType.CUDA && !torch.cuda.is_available())
            throw new ArgumentException($"Device {device}: this libtorch has no CUDA device; build against a CUDA libtorch (README) or use cpu");
        if (config.Has(SiloRoles.Window)) WindowThreads.Pin(device);
        return device;
    }

    /// <summary>The cluster store reachable, the TLS material read (null: none), and a warning for a cluster open to anyone.</summary>
    private static async Task<ClusterTls?> CheckClusterAsync(SiloConfig config)
    {
        if (config.Cluster.Provider == "redis")
            await RedisCheck.ReachableAsync(RedisEndpoint.Options(config.Cluster.Redis, config.Cluster.RedisPasswordFile), "Cluster:Redis");
        var tls = config.Cluster.Tls.Enabled ? ClusterTls.Load(config.Cluster.Tls) : null;
        if (tls is null && config.Cluster.Provider == "redis" && config.Cluster.OffLoopback)
            Console.Error.WriteLine("silo: Cluster:Insecure=true: the silo and Orleans gateway ports take no credential; anyone who reaches them joins the cluster");
        return tls;
    }

    private static void WarnOfSlowPrecision(SiloConfig config, List<ModelEntry> listed, Device device)
    {
        if (!config.Has(SiloRoles.Window) && !config.Has(SiloRoles.Canvas)) return;
        foreach (var precision in listed.Select(m => m.Precision).Distinct())
            if (Bf16Support.Warning(precision, device) is { } slow)
                Console.Error.WriteLine($"silo: {slow.Replace("--precision", "Models:N:Precision", StringComparison.Ordinal)}");
    }

    private static PriorInfo Describe(ModelEntry m, Device device) => new PriorReplicas(m.Prior, m.Heads, device, m.Precision).Describe();

    /// <summary>The window role's replicas (null: not this silo's role). Models load on first use, the first before the
    /// silo joins, so a joined window silo can serve; each model's VQ-GAN decodes its canvases' tiles beside the passes.</summary>
    private static async Task<ReplicaHost?> WindowReplicasAsync(SiloConfig config, List<ModelEntry> listed, Device device)
    {
        if (!config.Has(SiloRoles.Window)) return null;
        ReplicaModel Simulated(ModelEntry m, double ms)
        {
            var p = Describe(m, device);
            return new ReplicaModel(new SimulatedDenoiser(p.WindowLength, p.CodebookSize, TimeSpan.FromMilliseconds(ms)), p.Version);
        }
        Func<ModelEntry, ReplicaModel> load = config.Window.SimulatedBatchMs is { } ms
            ? m => Simulated(m, ms)
            : m => new PriorReplicas(m.Prior, m.Heads, device, m.Precision).Load();
        var host = new ReplicaHost(load, config.Window.Replicas, config.Window.MaxBatch, TimeSpan.FromMilliseconds(config.Window.MaxWaitMs), config.Device,
            (m, codes) => new TileDecoder(m.VqGan, device, config.Window.Replicas, codes), config.Window.MemoryBudgetMb << 20);
        try
        {
            await host.PreloadAsync(listed[0]);
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
        return host;
    }

    /// <summary>The canvas role's jobs (null: not this silo's role): each calls the cluster's replica grains; it loads
    /// no model, it reads the priors' shapes (the first now, so a bad file fails the start).</summary>
    private static CanvasRuntime? CanvasRole(SiloConfig config, ModelCatalog catalog, List<ModelEntry> listed, Device device, Func<IServiceProvider> services)
    {
        if (!config.Has(SiloRoles.Canvas)) return null;
        if (!config.Has(SiloRoles.Window)) _ = Describe(listed[0], device);
        var timeout = TimeSpan.FromSeconds(config.Canvas.RequestTimeoutSeconds);
        var poolOptions = new WindowPoolOptions { Timeout = timeout, Retries = config.Canvas.Retries, WaitForReplicas = timeout };
        return new CanvasRuntime(catalog, m => Describe(m, device), config.Canvas, config.StateDirectory,
            (model, prior, flow) => new ClusterJobReplicas(services().GetRequiredService<IGrainFactory>(), services().GetRequiredService<ReplicaDirectory>(), prior, model, flow, poolOptions));
    }

    /// <summary>Gateway silos and silos with an ops port are web hosts; the rest a plain host.</summary>
    private static IHostApplicationBuilder CreateBuilder(SiloConfig config)
    {
        var urls = new List<string>();
        if (config.Has(SiloRoles.Gateway)) urls.Add($"http://{config.Gateway.Host}:{config.Gateway.Port}");
        if (config.Ops.Port > 0) urls.Add($"http://{config.Ops.Host}:{config.Ops.Port}");
        if (urls.Count == 0)
            return Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "ut-silo", ContentRootPath = AppContext.BaseDirectory });
        var web = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "ut-silo", ContentRootPath = AppContext.BaseDirectory });
        web.WebHost.UseUrls([.. urls]);
        if (config.Ops.Port > 0) MetricsEndpoint.AddServices(web.Services);
        if (config.Has(SiloRoles.Gateway))
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
        return web;
    }

    private static void ConfigureLogging(ILoggingBuilder logging)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Polly", LogLevel.Warning);
        logging.AddFilter("Orleans", LogLevel.Warning);
        // The watchdog warns at every start that its participant check "has not completed" for minutes: a
        // measurement artefact of the first check, harmless, and it would read as a fault.
        logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
        // "Silo not running with ServerGC": workstation GC is chosen, for a box shared by several processes.
        logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);
        // A peer that died shows as refused connections, with stack traces, until membership declares it dead.
        logging.AddFilter("Orleans.Runtime.Messaging", LogLevel.Error);
        logging.AddFilter("Orleans.Runtime.MembershipService.SiloHealthMonitor", LogLevel.Error);
        // A failed start is reported once, as the one error line below, not as the host's stack dump.
        logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
    }

    /// <summary>Orleans with the roles' grains, and each role's services.</summary>
    private static void AddServices(IHostApplicationBuilder builder, SiloConfig config, ClusterTls? tls, ModelCatalog catalog, ReplicaHost? replicaHost, CanvasRuntime? canvas)
    {
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.UseOrleans(silo => OrleansSetup.Configure(silo, config, tls));
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton(config.Canvas);
        builder.Services.AddSingleton<ReplicaDirectory>();
        builder.Services.AddSingleton(catalog);
        if (replicaHost is not null) builder.Services.AddSingleton(replicaHost);
        if (canvas is not null)
        {
            builder.Services.AddSingleton(canvas);
            builder.Services.AddHostedService<JobKicker>();
        }
        if (config.Has(SiloRoles.Trainer))
        {
            builder.Services.AddSingleton(sp => ActivatorUtilities.CreateInstance<TrainerRun>(sp, config.Trainer, config.Device));
            builder.Services.AddHostedService<TrainerRole>();
        }
    }

    /// <summary>The host, and on a web host its guards and endpoints (the gateway's API only on a gateway silo).</summary>
    private static IHost Build(IHostApplicationBuilder builder, SiloConfig config)
    {
        if (builder is not WebApplicationBuilder web) return ((HostApplicationBuilder)builder).Build();
        var app = web.Build();
        BrowserGuards.Use(app, config);
        PortAccess.Use(app, config);
        ProbeEndpoints.Map(app, config);
        if (config.Ops.Port > 0) MetricsEndpoint.Map(app);
        if (config.Has(SiloRoles.Gateway))
        {
            GatewayApi.Map(app);
            ModelsEndpoint.Map(app);
            BrowserGuards.MapSession(app, config);
        }
        return app;
    }

    /// <summary>Starts the host, says what runs where, and waits for the stop; a failed start is one line and exit code 1.</summary>
    private static async Task<int> ServeAsync(IHost host, SiloConfig config, List<ModelEntry> listed, ReplicaHost? replicaHost, bool tls, CancellationToken cancel)
    {
        var failed = false;
        try
        {
            await host.StartAsync(cancel);
            for (var i = 0; i < (replicaHost?.Count ?? 0); i++)
                Console.WriteLine($"silo: window replica {OrleansSetup.SiloName(config)}/{i} on {config.Device} serving models {string.Join(", ", listed.Select(m => m.Name))}" +
                    $" ({listed[0].Key} loaded{(config.Window.MemoryBudgetMb > 0 ? $"; Window:MemoryBudgetMb {config.Window.MemoryBudgetMb}" : "")})");
            Console.WriteLine($"silo: started {OrleansSetup.SiloName(config)} (roles {string.Join(", ", config.Roles)}, cluster {config.Cluster.Provider}" +
                $"{(tls ? ", mutual TLS" : "")}" +
                $"{(config.Has(SiloRoles.Gateway) ? $", gateway http://{config.Gateway.Host}:{config.Gateway.Port}" : "")}" +
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
