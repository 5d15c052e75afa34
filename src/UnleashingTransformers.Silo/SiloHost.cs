using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Transports.InProcess;
using UnleashingTransformers.Silo.Gateway;
using UnleashingTransformers.Silo.Roles;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Silo;

/// <summary>
/// One silo process: the roles of its configuration on a .NET Generic Host (a web host when it has the
/// gateway role). Everything that can fail for a user's reason (config, model files, broker) is checked
/// before the host starts, so it fails with one line instead of a host error dump. SIGTERM/SIGINT stop
/// it gracefully: window replicas finish their batch and hand back the rest, canvas jobs save their
/// canvas, the trainer stops between steps; a second silo (or this one, restarted) goes on.
/// </summary>
public static class SiloHost
{
    public static async Task<int> RunAsync(SiloConfig config, CancellationToken cancel = default)
    {
        if (config.Threads > 0)
        {
            torch.set_num_threads(config.Threads);
            torch.set_blas_threads(config.Threads);
        }
        var device = Device.Parse(config.Device);
        if (device.Type == DeviceType.CUDA && !torch.cuda.is_available())
            throw new ArgumentException($"Device {device}: this libtorch has no CUDA device; build against a CUDA libtorch (README) or use cpu");
        if (config.Broker.Configured)
            await (await config.Broker.ConnectAsync($"ut-silo-check-{Environment.ProcessId}", cancel)).DisposeAsync();
        PriorInfo? prior = config.Has("window") || config.Has("canvas") || config.Has("gateway") ? PriorReplicas.From(config).Describe() : null;
        var state = new SiloState(config.Roles);
        JobStore? store = config.Has("canvas") || config.Has("gateway") ? new JobStore(config.StateDirectory) : null;
        using var telemetry = TelemetryExport.Start(config.Telemetry.OtlpEndpoint, config.Telemetry.ServiceName, config.Telemetry.ExportIntervalMs);

        // Embedded: the window role is an in-process pool of replica threads the canvas role calls.
        InProcessWindowPool? localPool = null;
        var replicas = new List<ReplicaModel>();
        if (!config.Broker.Configured && config.Has("window"))
        {
            var load = PriorReplicas.From(config);
            for (var i = 0; i < config.Window.Replicas; i++) replicas.Add(load.Load());
            localPool = new InProcessWindowPool(replicas.Select(r => r.Denoiser).ToList(), config.Window.MaxBatch, TimeSpan.FromMilliseconds(config.Window.MaxWaitMs));
            state.Ready("window");
        }

        IHostApplicationBuilder builder;
        if (config.Has("gateway"))
        {
            var web = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "ut-silo", ContentRootPath = AppContext.BaseDirectory });
            web.WebHost.UseUrls($"http://{config.Gateway.Host}:{config.Gateway.Port}");
            builder = web;
        }
        else
        {
            builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "ut-silo", ContentRootPath = AppContext.BaseDirectory });
        }
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // A failed role is reported once, as the one error line below, not as the host's stack dump.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        builder.Services.Configure<HostOptions>(o =>
        {
            o.ShutdownTimeout = TimeSpan.FromSeconds(30);
            o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.StopHost;
        });
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton(state);
        if (prior is not null) builder.Services.AddSingleton(prior);
        if (store is not null) builder.Services.AddSingleton(store);
        if (localPool is not null) builder.Services.AddSingleton<IWindowPool>(localPool);
        if (config.Has("window") && config.Broker.Configured) builder.Services.AddHostedService<WindowRole>();
        if (config.Has("canvas")) builder.Services.AddHostedService<CanvasRole>();
        if (config.Has("trainer")) builder.Services.AddHostedService<TrainerRole>();

        IHost host;
        if (builder is WebApplicationBuilder webBuilder)
        {
            var app = webBuilder.Build();
            GatewayApi.Map(app, config, state, store!, prior!);
            state.Ready("gateway");
            host = app;
        }
        else
        {
            host = ((HostApplicationBuilder)builder).Build();
        }
        var failed = false;
        try
        {
            await host.StartAsync(cancel);
            Console.WriteLine($"silo: started (roles {string.Join(", ", config.Roles)}{(config.Has("gateway") ? $", gateway http://{config.Gateway.Host}:{config.Gateway.Port}" : "")})");
            await host.WaitForShutdownAsync(cancel);
            // A role that failed stopped the host: say why, once, and exit non-zero.
            if (host.Services.GetServices<IHostedService>().OfType<BackgroundService>().Select(s => s.ExecuteTask?.Exception?.GetBaseException()).FirstOrDefault(e => e is not null) is { } roleError)
            {
                Console.Error.WriteLine($"ut: error: {roleError.Message}");
                failed = true;
            }
        }
        catch (Exception e) when (e is IOException or ArgumentException or TorchException)
        {
            Console.Error.WriteLine($"ut: error: {e.Message}");
            failed = true;
        }
        finally
        {
            if (host is IAsyncDisposable d) await d.DisposeAsync(); else host.Dispose();
            if (localPool is not null) await localPool.DisposeAsync();
            foreach (var r in replicas) r.Owner?.Dispose();
        }
        Console.WriteLine("silo: stopped");
        return failed ? 1 : 0;
    }
}
