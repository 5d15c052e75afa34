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
    /// <summary>Writes a done job's PNG to <paramref name="path"/> as it arrives, resuming where a dropped
    /// transfer stopped (the same version of the image, or from the start if it changed).</summary>
    Task DownloadAsync(string id, string path, CancellationToken cancel);
}

/// <summary>How <c>ut submit</c> fetches a job's image: a stream to disk, picked up again where it broke off.</summary>
internal static class Downloads
{
    /// <summary>Times a broken transfer is resumed before giving up.</summary>
    public const int Resumes = 5;

    /// <summary>Runs <paramref name="transfer"/> (given the file and the bytes already in it) until it completes,
    /// resuming after transient failures.</summary>
    public static async Task RunAsync(string id, string path, Func<FileStream, long, CancellationToken, Task> transfer, Func<Exception, bool> transient, CancellationToken cancel)
    {
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await transfer(file, file.Length, cancel);
                return;
            }
            catch (Exception e) when (!cancel.IsCancellationRequested && transient(e) && attempt < Resumes)
            {
                Console.Error.WriteLine($"submit: job {id}: the download broke off at {file.Length:N0} bytes ({e.Message}); resuming");
                await Task.Delay(TimeSpan.FromMilliseconds(200 * (attempt + 1)), cancel);
            }
        }
    }
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

    public Task DownloadAsync(string id, string path, CancellationToken cancel)
    {
        string? etag = null;
        return Downloads.RunAsync(id, path, async (file, have, token) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"jobs/{id}/image");
            if (have > 0 && etag is not null)
            {
                // The rest of the same image; a changed one comes whole (200), and the file starts over.
                request.Headers.Range = new RangeHeaderValue(have, null);
                request.Headers.IfRange = new RangeConditionHeaderValue(EntityTagHeaderValue.Parse(etag));
            }
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
            if (!response.IsSuccessStatusCode) throw new ArgumentException($"job {id}: image not available: {await ErrorOf(response, token)}");
            etag = response.Headers.ETag?.ToString();
            if (response.StatusCode != System.Net.HttpStatusCode.PartialContent) file.SetLength(0);
            file.Position = file.Length;
            await using var body = await response.Content.ReadAsStreamAsync(token);
            await body.CopyToAsync(file, token);
            await file.FlushAsync(token);
            var total = response.Content.Headers.ContentRange?.Length ?? response.Content.Headers.ContentLength;
            if (total is { } expected && file.Length != expected) throw new IOException($"the image ended at {file.Length:N0} of {expected:N0} bytes");
        }, e => e is IOException or HttpRequestException, cancel);
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

    /// <summary>How long <c>ut submit --cluster</c> tries to reach a gateway port.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);

    public static async Task<ClusterConnection> ConnectAsync(string cluster, CancellationToken cancel)
    {
        if (!Uri.TryCreate(cluster, UriKind.Absolute, out var uri) || uri.Scheme != "redis" || uri.Port < 1)
            throw new ArgumentException("--cluster: expected redis://[:PASSWORD@]host:port (the cluster's Cluster:Redis)");
        var endpoint = $"{uri.Host}:{uri.Port}";
        var redis = ConfigurationOptions.Parse(endpoint);
        // redis://:PASSWORD@host or redis://USER:PASSWORD@host (an ACL user), as redis-cli reads them.
        if (uri.UserInfo.Split(':', 2) is [var user, var password])
            (redis.User, redis.Password) = (user.Length > 0 ? Uri.UnescapeDataString(user) : null, Uri.UnescapeDataString(password));
        await RedisCheck.ReachableAsync(redis, "--cluster");
        // The cluster's names and certificates, from the environment as a silo reads them (UT__Cluster__...).
        string Env(string key, string fallback = "") => Environment.GetEnvironmentVariable($"UT__Cluster__{key}") ?? fallback;
        var defaults = new SiloConfig.ClusterSettings();
        var files = new SiloConfig.TlsSettings { CaFile = Env("Tls__CaFile"), CertificateFile = Env("Tls__CertificateFile"), KeyFile = Env("Tls__KeyFile") };
        var tls = files.Enabled ? ClusterTls.Load(files, "UT__Cluster__Tls__") : null;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "ut-submit", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(o => o.ConfigurationOptions = redis);
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (Env("ClusterId", defaults.ClusterId), Env("ServiceId", defaults.ServiceId)));
            client.AddActivityPropagation();
            tls?.Configure(client);
        });
        var host = builder.Build();
        // A gateway that refuses the handshake (no certificate, or one of another CA) looks like one that is not
        // there yet: Orleans retries until this deadline.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(ConnectTimeout);
        try
        {
            await host.StartAsync(deadline.Token);
        }
        catch (Exception e) when (!cancel.IsCancellationRequested)
        {
            host.Dispose();
            var why = e is OperationCanceledException ? $"none within {ConnectTimeout.TotalSeconds:F0} s" : e.GetBaseException().Message;
            throw new IOException($"--cluster {endpoint}: no silo of the cluster answered ({why}): start silos with Cluster:Redis={endpoint}" +
                (tls is null ? "; a cluster with TLS needs UT__Cluster__Tls__CaFile, __CertificateFile and __KeyFile" : "; check that the silos' CA issued UT__Cluster__Tls__CertificateFile"));
        }
        return new ClusterConnection(host, host.Services.GetRequiredService<IGrainFactory>(), endpoint);
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

    public async Task<JobStatus> StatusAsync(string id, CancellationToken cancel)
    {
        try
        {
            return await grains.GetGrain<ICanvasJobGrain>(id).StatusAsync() ?? throw new IOException($"job {id} is gone");
        }
        catch (Exception e) when (e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException)
        {
            // Its canvas silo died and the job resumes on another from its last saved step: keep following it.
            return new JobStatus(id, JobState.Resuming, 0, 0, 0, 0, null, DateTimeOffset.UtcNow);
        }
    }

    public Task CancelAsync(string id) => grains.GetGrain<ICanvasJobGrain>(id).CancelAsync();

    public Task DownloadAsync(string id, string path, CancellationToken cancel)
    {
        string? etag = null;
        return Downloads.RunAsync(id, path, async (file, have, token) =>
        {
            await using var image = await JobOutputStream.OpenAsync(grains.GetGrain<ICanvasJobGrain>(id), "image.png")
                ?? throw new ArgumentException($"job {id}: image not available");
            // The rest of the same image; a changed one is taken from the start.
            if (image.Info.ETag != etag) (etag, file.Position) = (image.Info.ETag, 0);
            file.SetLength(file.Position);
            image.Position = file.Position;
            await image.CopyToAsync(file, token);
            await file.FlushAsync(token);
        }, e => e is IOException or TimeoutException or SiloUnavailableException, cancel);
    }

    public async ValueTask DisposeAsync()
    {
        await host.StopAsync();
        host.Dispose();
    }
}
