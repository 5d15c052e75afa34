using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using StackExchange.Redis;
using UnleashingTransformers.Grid.Contracts;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Grid.Replicas;
using UnleashingTransformers.Testing;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>
/// The cluster's back door, probed as a hostile process would: real redis-server with a password, real `ut silo`
/// processes with mutual TLS, and raw Orleans clients in this process (referencing the wire contracts only, plus
/// the certificates they are given).
/// </summary>
public sealed class SecurityTests : GridTest
{
    private static readonly CanvasJobSpec Small = new() { Height = 16, Width = 16, Steps = 8, Seed = 3 };

    /// <summary>A raw Orleans client of the cluster, with the client certificate of <paramref name="certs"/> (null: none).</summary>
    private static async Task<IHost> RawClient(RedisServer redis, string? certs)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis.ConnectionString));
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("ut", "ut"));
            if (certs is not null)
                ClusterTls.Load(new SiloConfig.TlsSettings { CaFile = $"{certs}/ca.pem", CertificateFile = $"{certs}/client.pem", KeyFile = $"{certs}/client.key" }).Configure(client);
        });
        var host = builder.Build();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await host.StartAsync(deadline.Token);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return host;
    }

    [Fact]
    public async Task OnlyHoldersOfTheClustersCertificatesGetInAndClientsReachOnlyTheJobApi()
    {
        var password = Convert.ToHexString(Guid.NewGuid().ToByteArray());
        var token = Convert.ToHexString(Guid.NewGuid().ToByteArray());
        using var redis = new RedisServer(password);
        using var otlp = new OtlpReceiver();
        var other = MakeCertificates("other");

        // The store refuses a silo without its password: one line, naming the setting, not the password.
        var window = Path.Combine(Deploy, "window.json");
        var noPassword = Ut.Fails(["silo", "--config", window, .. Cluster(redis), $"Cluster:Redis={redis.Endpoint}"]);
        Assert.Contains("refused the credentials (none given)", noPassword);
        var wrong = Ut.Fails(["silo", "--config", window, .. Cluster(redis), $"Cluster:Redis={redis.Endpoint},password=not-{password}"]);
        Assert.Contains("refused the credentials (wrong password)", wrong);
        Assert.DoesNotContain(password, wrong);

        using var replicas = WindowSilo(redis, $"Telemetry:OtlpEndpoint={otlp.Endpoint}", "Telemetry:ExportIntervalMs=500");
        var port = Ports.Free();
        using var canvas = CanvasSilo(redis, port, $"Gateway:Token={token}", $"Telemetry:OtlpEndpoint={otlp.Endpoint}", "Telemetry:ExportIntervalMs=500");
        var http = await ReadyGateway(port);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        // No certificate, or one of another CA: the gateway port completes no handshake, so no client starts.
        await Assert.ThrowsAnyAsync<Exception>(() => RawClient(redis, null));
        await Assert.ThrowsAnyAsync<Exception>(() => RawClient(redis, other));
        Assert.Contains("no silo of the cluster answered", Ut.Fails(ClientTls(other), "submit", "--cluster", $"redis://:{password}@{redis.Endpoint}", "--shape", "16x16", "--out", P("no.png")));

        // A silo with another CA's certificate cannot join: the cluster's silos refuse its connections, cannot
        // probe it, and declare it dead; it stops (Orleans' own fatal stop) without ever serving.
        using (var stranger = UtProcess.Silo(window, [.. Cluster(redis), .. Tls(other)]))
        {
            Assert.NotEqual(0, stranger.WaitForExit(120));
            Assert.DoesNotContain("silo: started", stranger.Output);
            Assert.Contains("Dead", stranger.Output);
        }

        // With the cluster's client certificate: the job API, and nothing else.
        using var client = await RawClient(redis, Certificates);
        var grains = client.Services.GetRequiredService<IClusterClient>();
        // The window silo's replica, by the key it printed ("silo: window replica NAME/0 serving ...").
        var replica = replicas.Output.Split("window replica ")[1].Split(' ')[0];
        var status = await JobSubmission.SubmitAsync(grains, Small);
        // The grain admitted it into the job list itself: the gateway lists it.
        Assert.Contains(status.Id, await http.GetStringAsync("jobs"));
        var refusals = new Func<Task>[]
        {
            () => grains.GetGrain<ICanvasJobGrain>(status.Id).ForgetAsync(),
            () => grains.GetGrain<IJobIndexGrain>(0).RemoveAsync(status.Id),
            () => grains.GetGrain<IJobIndexGrain>(0).AdmitAsync("x", JobPriority.Interactive),
            () => grains.GetGrain<IWindowReplicaGrain>(replica).StatusAsync(),
            () => grains.GetGrain<IWindowReplicaGrain>(replica).EvaluateAsync(new ModelKey("terrain", ModelVersion.OfFile(Prior)), WindowFlow.Anonymous, []),
            // A model pointing the silos at any file would be theirs to load: publishing is the trainer's, inside.
            () => grains.GetGrain<IModelRegistryGrain>(0).PublishAsync(new PublishedModel("terrain", "/etc/passwd", "", "0123456789abcdef", DateTimeOffset.UtcNow)),
        };
        foreach (var call in refusals) Assert.Contains("is not open to clients", (await Assert.ThrowsAnyAsync<Exception>(call)).Message);
        // Ids are the cluster's kind: markup is no job id (it would have reached every viewer's page).
        await Assert.ThrowsAnyAsync<ArgumentException>(() => grains.GetGrain<ICanvasJobGrain>("<img src=x onerror=alert(1)>").SubmitAsync(Small));
        Assert.Equal(JobState.Done, (await WaitDone(grains, status.Id)).State);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"jobs/{status.Id}/image")).StatusCode);

        // ut submit --cluster with the client certificate and the password in the URL: the same bytes as at home.
        Ut.Ok(ClientTls(Certificates), "submit", "--cluster", $"redis://:{password}@{redis.Endpoint}", "--shape", "16x16", "--steps", "8", "--seed", "3", "--out", P("client.png"));
        Assert.Equal(Embedded("16x16", 3, "--steps", "8"), File.ReadAllBytes(P("client.png")));

        // Nothing secret in what the silos print or export.
        await Task.Delay(1500);
        var exported = string.Concat(otlp.Payloads.Select(p => Encoding.UTF8.GetString(p)));
        Assert.NotEmpty(exported);
        var key = File.ReadAllText($"{Certificates}/silo.key").Split('\n')[1];
        foreach (var secret in new[] { password, token, key, "PRIVATE KEY" })
            foreach (var (what, text) in new[] { ("window silo output", replicas.Output), ("canvas silo output", canvas.Output), ("OTLP export", exported) })
                Assert.False(text.Contains(secret, StringComparison.Ordinal), $"the {what} holds a secret ({secret[..Math.Min(6, secret.Length)]}...)");
    }

    private static async Task<JobStatus> WaitDone(IGrainFactory grains, string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        JobStatus? s;
        while ((s = await grains.GetGrain<ICanvasJobGrain>(id).StatusAsync())?.Finished != true && DateTime.UtcNow < deadline) await Task.Delay(100);
        return s!;
    }

    [Fact]
    public void OffLoopbackASiloWantsTlsOrAnExplicitInsecure()
    {
        using var redis = new RedisServer();
        string[] offLoopback = ["silo", "--config", Path.Combine(Deploy, "window.json"), "Cluster:Provider=redis", $"Cluster:Redis={redis.Endpoint}", "Cluster:AdvertisedAddress=10.9.8.7"];
        Assert.Contains("is off loopback and the cluster has no TLS", Ut.Fails(offLoopback));
        Assert.Contains("Cluster:Tls:KeyFile is not set", Ut.Fails([.. offLoopback, $"Cluster:Tls:CaFile={Certificates}/ca.pem", $"Cluster:Tls:CertificateFile={Certificates}/silo.pem"]));
        // A certificate the CA did not issue is refused before anything starts.
        var other = MakeCertificates("issuer");
        Assert.Contains("not issued by the CA", Ut.Fails([.. offLoopback, $"Cluster:Tls:CaFile={Certificates}/ca.pem", $"Cluster:Tls:CertificateFile={other}/silo.pem",
            $"Cluster:Tls:KeyFile={other}/silo.key"]));
        Assert.Contains("exists already", Ut.Fails("certs", "--out", Certificates));
    }
}

/// <summary>Trust as <see cref="ClusterTls"/> decides it, without processes: which certificates a silo accepts.</summary>
public sealed class ClusterTlsTests : TempDirTest
{
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1", ClientAuth = "1.3.6.1.5.5.7.3.2";

    private string Set(string name)
    {
        var dir = P(name);
        Ut.Ok("certs", "--out", dir);
        return dir;
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 Cert(string dir, string name) =>
        System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile($"{dir}/{name}.pem");

    [Fact]
    public void APeerIsTrustedForWhatItsCAIssuedItAndDuringACAChangeForEitherCA()
    {
        var (old, next, stranger) = (Set("old"), Set("new"), Set("stranger"));
        var tls = ClusterTls.Load(new SiloConfig.TlsSettings { CaFile = $"{old}/ca.pem", CertificateFile = $"{old}/silo.pem", KeyFile = $"{old}/silo.key" });
        Assert.True(tls.Trusts(Cert(old, "silo"), ServerAuth) && tls.Trusts(Cert(old, "silo"), ClientAuth));
        // A client certificate opens the gateway port, not the silo port; another CA's nothing.
        Assert.True(tls.Trusts(Cert(old, "client"), ClientAuth));
        Assert.False(tls.Trusts(Cert(old, "client"), ServerAuth));
        Assert.False(tls.Trusts(Cert(stranger, "silo"), ClientAuth));
        Assert.False(tls.Trusts(Cert(old, "ca"), ClientAuth));

        // Rotation: a CaFile with both CAs trusts silos of either, still not a stranger's.
        File.WriteAllText(P("both.pem"), File.ReadAllText($"{old}/ca.pem") + File.ReadAllText($"{next}/ca.pem"));
        var rolling = ClusterTls.Load(new SiloConfig.TlsSettings { CaFile = P("both.pem"), CertificateFile = $"{next}/silo.pem", KeyFile = $"{next}/silo.key" });
        Assert.True(rolling.Trusts(Cert(old, "silo"), ServerAuth) && rolling.Trusts(Cert(next, "silo"), ServerAuth));
        Assert.False(rolling.Trusts(Cert(stranger, "silo"), ServerAuth));
        // A key that is not the certificate's is one line naming the keys.
        var e = Assert.Throws<ArgumentException>(() => ClusterTls.Load(new SiloConfig.TlsSettings { CaFile = $"{old}/ca.pem", CertificateFile = $"{old}/silo.pem", KeyFile = $"{old}/client.key" }));
        Assert.Contains("CertificateFile/KeyFile", e.Message);
    }
}
