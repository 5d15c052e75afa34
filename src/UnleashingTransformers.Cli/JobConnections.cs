using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using StackExchange.Redis;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Silo;

namespace UnleashingTransformers.Cli;

/// <summary>Where <c>ut submit</c> sends a job and follows it: a gateway over HTTP, or the cluster itself.</summary>
internal interface IJobConnection : IAsyncDisposable
{
    string Where { get; }
    Task<JobStatus> SubmitAsync(CanvasJobSpec spec, CancellationToken cancel);
    Task<JobStatus> StatusAsync(string id, CancellationToken cancel);
    Task CancelAsync(string id);
    Task<byte[]> ImageAsync(string id, CancellationToken cancel);
}

/// <summary>A gateway's HTTP API; the bearer token (when the gateway needs one) from UT__Gateway__Token.</summary>
internal sealed class GatewayConnection : IJobConnection
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };
    private readonly HttpClient _http;

    public string Where { get; }

    public GatewayConnection(string gateway, string? token)
    {
        if (!Uri.TryCreate(gateway, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--gateway {gateway}: expected http://host:port");
        Where = gateway;
        _http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
        if (!string.IsNullOrEmpty(token)) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public async Task<JobStatus> SubmitAsync(CanvasJobSpec spec, CancellationToken cancel)
    {
        HttpResponseMessage created;
        try
        {
            created = await _http.PostAsJsonAsync("jobs", spec, Json, cancel);
        }
        catch (HttpRequestException e)
        {
            throw new IOException($"gateway {Where} is unreachable ({e.Message}): start a silo with the gateway role or fix --gateway", e);
        }
        if (!created.IsSuccessStatusCode) throw new ArgumentException($"gateway refused the job: {await ErrorOf(created, cancel)}");
        return (await created.Content.ReadFromJsonAsync<JobStatus>(Json, cancel))!;
    }

    public async Task<JobStatus> StatusAsync(string id, CancellationToken cancel) => (await _http.GetFromJsonAsync<JobStatus>($"jobs/{id}", Json, cancel))!;

    public Task CancelAsync(string id) => _http.DeleteAsync($"jobs/{id}", CancellationToken.None);

    public async Task<byte[]> ImageAsync(string id, CancellationToken cancel)
    {
        var image = await _http.GetAsync($"jobs/{id}/image", cancel);
        if (!image.IsSuccessStatusCode) throw new IOException($"job {id}: image not available: {await ErrorOf(image, cancel)}");
        return await image.Content.ReadAsByteArrayAsync(cancel);
    }

    private static async Task<string> ErrorOf(HttpResponseMessage response, CancellationToken cancel)
    {
        var body = await response.Content.ReadAsStringAsync(cancel);
        try
        {
            return JsonDocument.Parse(body).RootElement.GetProperty("error").GetString() ?? body;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"HTTP {(int)response.StatusCode} {body}";
        }
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The cluster through an Orleans client: membership from the cluster's redis-server, calls
/// through the silos' gateway ports (Cluster:GatewayPort).</summary>
internal sealed class ClusterConnection(IHost host, IGrainFactory grains, string where) : IJobConnection
{
    public string Where => where;

    public static async Task<ClusterConnection> ConnectAsync(string cluster, CancellationToken cancel)
    {
        if (!Uri.TryCreate(cluster, UriKind.Absolute, out var uri) || uri.Scheme != "redis" || uri.Port < 1)
            throw new ArgumentException($"--cluster {cluster}: expected redis://host:port (the cluster's Cluster:Redis)");
        var endpoint = $"{uri.Host}:{uri.Port}";
        await RedisCheck.ReachableAsync(endpoint, "--cluster");
        var defaults = new SiloConfig.ClusterSettings();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "ut-submit", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(endpoint));
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) =
                (Environment.GetEnvironmentVariable("UT__Cluster__ClusterId") ?? defaults.ClusterId, Environment.GetEnvironmentVariable("UT__Cluster__ServiceId") ?? defaults.ServiceId));
            client.AddActivityPropagation();
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancel);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            host.Dispose();
            throw new IOException($"--cluster {cluster}: no silo of the cluster answered ({e.GetBaseException().Message}): start silos with Cluster:Redis={endpoint}");
        }
        return new ClusterConnection(host, host.Services.GetRequiredService<IGrainFactory>(), cluster);
    }

    public async Task<JobStatus> SubmitAsync(CanvasJobSpec spec, CancellationToken cancel)
    {
        try
        {
            return await JobSubmission.SubmitAsync(grains, spec);
        }
        catch (JobQueueFullException e)
        {
            throw new IOException($"the cluster refused the job: {e.Message}");
        }
        catch (Exception e) when (JobSubmission.NoSiloHosts(e))
        {
            throw new IOException("no canvas silo in the cluster: start a silo with the canvas role");
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"the cluster refused the job: {e.Message}");
        }
    }

    public async Task<JobStatus> StatusAsync(string id, CancellationToken cancel) =>
        await grains.GetGrain<ICanvasJobGrain>(id).StatusAsync() ?? throw new IOException($"job {id} is gone");

    public Task CancelAsync(string id) => grains.GetGrain<ICanvasJobGrain>(id).CancelAsync();

    public async Task<byte[]> ImageAsync(string id, CancellationToken cancel) =>
        await grains.GetGrain<ICanvasJobGrain>(id).ImageAsync() ?? throw new IOException($"job {id}: image not available");

    public async ValueTask DisposeAsync()
    {
        await host.StopAsync();
        host.Dispose();
    }
}
