using System.Net.Http.Json;
using System.Text.Json;
using UnleashingTransformers.Imaging;
using UnleashingTransformers.Testing;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>Silo configurations, clusters and reference images for the grid tests.</summary>
public abstract class GridTest : TempDirTest
{
    private readonly Dictionary<UtProcess, int> _opsPorts = new();

    protected static readonly string Models = Path.Combine(AppContext.BaseDirectory, "models", "terrain");
    protected static readonly string Prior = Path.Combine(Models, "absorbing_ema.th");
    protected static readonly string VqGan = Path.Combine(Models, "vqgan_ema.th");
    /// <summary>The repository's example silo configurations (the contract's command lines use them).</summary>
    protected static readonly string Deploy = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "deploy", "silo"));

    /// <summary>Writes a silo.json; <paramref name="settings"/> are merged over the model paths.</summary>
    protected string Config(string name, object settings)
    {
        var doc = JsonSerializer.SerializeToNode(settings)!.AsObject();
        doc["Models"] ??= new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["Name"] = "terrain", ["Prior"] = Prior, ["VqGan"] = VqGan });
        doc["StateDirectory"] ??= P("state");
        doc["Threads"] ??= 1;
        // Each embedded silo its own Orleans ports, so tests can run side by side.
        doc["Cluster"] ??= new System.Text.Json.Nodes.JsonObject { ["SiloPort"] = Ports.Free(), ["GatewayPort"] = Ports.Free() };
        var path = P(name);
        File.WriteAllText(path, doc.ToJsonString());
        return path;
    }

    /// <summary>The overrides that put a silo into the redis cluster, on ports of its own (as the README's contract),
    /// with mutual TLS from <see cref="Certificates"/>: the test clusters run as deployments should.</summary>
    protected string[] Cluster(RedisServer redis) =>
        ["Cluster:Provider=redis", $"Cluster:Redis={redis.ConnectionString}", $"Cluster:SiloPort={Ports.Free()}", $"Cluster:GatewayPort={Ports.Free()}", $"StateDirectory={P("state")}",
         .. Tls(Certificates)];

    /// <summary>A set made by <c>ut certs</c> once for the test run: the CA, a silo's and a client's certificate.</summary>
    protected static string Certificates => LazyCertificates.Value;

    private static readonly Lazy<string> LazyCertificates = new(() => MakeCertificates("cluster"));

    /// <summary>A fresh set from <c>ut certs</c> (its own CA) in a folder of the test run.</summary>
    protected static string MakeCertificates(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ut-certs-{Environment.ProcessId}-{name}-{Guid.NewGuid():N}");
        Ut.Ok("certs", "--out", dir);
        return dir;
    }

    /// <summary>A silo's Cluster:Tls overrides for the set in <paramref name="certs"/>.</summary>
    protected static string[] Tls(string certs) =>
        [$"Cluster:Tls:CaFile={certs}/ca.pem", $"Cluster:Tls:CertificateFile={certs}/silo.pem", $"Cluster:Tls:KeyFile={certs}/silo.key"];

    /// <summary>The environment <c>ut submit --cluster</c> reads its client certificate from.</summary>
    protected static Dictionary<string, string> ClientTls(string certs) => new()
    {
        ["UT__Cluster__Tls__CaFile"] = $"{certs}/ca.pem",
        ["UT__Cluster__Tls__CertificateFile"] = $"{certs}/client.pem",
        ["UT__Cluster__Tls__KeyFile"] = $"{certs}/client.key",
    };

    /// <summary>deploy/silo/window.json in the cluster, returned once its ops port says it is ready (an active member
    /// of the cluster): the port <c>Ops:Port</c> names in <paramref name="overrides"/>, or one of its own.</summary>
    protected UtProcess WindowSilo(RedisServer redis, params string[] overrides)
    {
        var given = overrides.FirstOrDefault(o => o.StartsWith("Ops:Port=", StringComparison.Ordinal));
        var ops = given is null ? Ports.Free() : int.Parse(given["Ops:Port=".Length..]);
        var silo = UtProcess.Silo(Path.Combine(Deploy, "window.json"), [.. Cluster(redis), .. given is null ? [$"Ops:Port={ops}"] : Array.Empty<string>(), .. overrides]);
        WaitReady(silo, ops);
        _opsPorts[silo] = ops;
        return silo;
    }

    /// <summary>deploy/silo/canvas.json (canvas + gateway) in the cluster, its gateway on <paramref name="port"/>; ready when
    /// <see cref="ReadyGateway"/> says so.</summary>
    protected UtProcess CanvasSilo(RedisServer redis, int port, params string[] overrides) =>
        UtProcess.Silo(Path.Combine(Deploy, "canvas.json"), [.. Cluster(redis), $"Gateway:Port={port}", .. overrides]);

    /// <summary>Polls a silo's <c>/readyz</c> on its ops port until it answers 200; fails with the silo's output.</summary>
    protected static void WaitReady(UtProcess silo, int opsPort, double seconds = 60)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{opsPort}"), Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline && !silo.Exited)
        {
            try
            {
                if (http.GetAsync("readyz").GetAwaiter().GetResult().IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }   // not listening yet
            catch (TaskCanceledException) { }
            Thread.Sleep(200);
        }
        throw new TimeoutException($"silo not ready on ops port {opsPort} after {seconds} s (exited: {silo.Exited}); output:\n{silo.Output}");
    }

    /// <summary>The embedded run's image for a job: what every distributed run must reproduce byte for byte.</summary>
    protected byte[] Embedded(string shape, ulong seed, params string[] extra)
    {
        var file = P($"embedded-{shape}-{seed}.png");
        Ut.Ok(["generate", "--shape", shape, "--seed", seed.ToString(), "--out", file, .. extra]);
        return File.ReadAllBytes(file);
    }

    /// <summary>Asserts an image is the embedded run's, byte for byte; when it is not, says how many pixels differ and
    /// where: a flipped token shows as a block of some 8x8 pixels a token, a decode's rounding as lone pixels.</summary>
    protected void SameImage(byte[] expected, byte[] actual)
    {
        if (expected.AsSpan().SequenceEqual(actual)) return;
        File.WriteAllBytes(P("expected.png"), expected);
        File.WriteAllBytes(P("actual.png"), actual);
        using var scope = NewDisposeScope();
        var (a, b) = (Images.Load(P("expected.png")), Images.Load(P("actual.png")));
        if (!a.shape.SequenceEqual(b.shape)) Xunit.Assert.Fail($"the image is {string.Join("x", b.shape)}, not {string.Join("x", a.shape)}");
        var differs = (a - b).abs().sum(0) > 0;
        var rows = differs.any(1).ToArray<bool>().Select((d, i) => (d, i)).Where(x => x.d).Select(x => x.i).ToArray();
        var columns = differs.any(0).ToArray<bool>().Select((d, i) => (d, i)).Where(x => x.d).Select(x => x.i).ToArray();
        var count = differs.sum().item<long>();
        Xunit.Assert.Fail(count == 0 ? $"the files differ ({expected.Length} and {actual.Length} bytes) but not their pixels"
            : $"{count} pixels differ, in rows {rows[0]}..{rows[^1]} and columns {columns[0]}..{columns[^1]}, by up to {(a - b).abs().max().item<float>() * 255:F0}/255");
    }

    /// <summary>Waits until the gateway says it can serve jobs (a window replica and a canvas silo in view).</summary>
    protected static async Task<HttpClient> ReadyGateway(int port, double seconds = 60)
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        var last = "not listening";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var r = await http.GetAsync("readyz");
                if (r.StatusCode == System.Net.HttpStatusCode.OK) return http;
                last = await r.Content.ReadAsStringAsync();
            }
            catch (HttpRequestException e)
            {
                last = e.Message; // the silo is still starting
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"gateway {port} not ready after {seconds} s: {last}");
    }

    protected static async Task<string> Submit(HttpClient http, object job)
    {
        var created = await http.PostAsJsonAsync("jobs", job);
        if (created.StatusCode != System.Net.HttpStatusCode.Accepted) throw new InvalidOperationException($"{created.StatusCode}: {await created.Content.ReadAsStringAsync()}");
        return JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
    }

    internal static async Task<JsonElement> Status(HttpClient http, string id) => JsonDocument.Parse(await http.GetStringAsync($"jobs/{id}")).RootElement;
    internal static async Task<int> Step(HttpClient http, string id) => (await Status(http, id)).GetProperty("step").GetInt32();
    internal static async Task<string> State(HttpClient http, string id) => (await Status(http, id)).GetProperty("state").GetString()!;

    protected static async Task WaitForStep(HttpClient http, string id, int step, double seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (await Step(http, id) < step && DateTime.UtcNow < deadline) await Task.Delay(20);
    }

    /// <summary>Starts an embedded silo, submits <paramref name="job"/>, and once it passed <paramref name="step"/>
    /// stops the silo with <paramref name="stop"/> (SIGTERM or SIGKILL); returns the job's id.</summary>
    protected static async Task<string> StopMidJob(string config, int port, object job, int step, Action<UtProcess> stop)
    {
        using var silo = UtProcess.Silo(config);
        var http = await ReadyGateway(port);
        var id = await Submit(http, job);
        await WaitForStep(http, id, step);
        stop(silo);
        return id;
    }

    protected static async Task WaitForState(HttpClient http, string id, string state, double seconds = 90)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (await State(http, id) != state && DateTime.UtcNow < deadline) await Task.Delay(100);
        var status = await Status(http, id);
        Xunit.Assert.True(status.GetProperty("state").GetString() == state, $"job {id} is not {state}: {status}");
    }

    /// <summary>A window silo's count of requests served, from its ops port's metrics (<c>ut_window_requests_total</c>
    /// over its replicas).</summary>
    protected Task<long> Served(UtProcess silo) => Counter(silo, "ut_window_requests_total");

    /// <summary>A window silo's count of canvas tiles decoded, from its ops port's metrics.</summary>
    protected Task<long> Decoded(UtProcess silo) => Counter(silo, "ut_decode_tiles_total");

    /// <summary>How often a window silo loaded and unloaded <paramref name="model"/>, from its ops port's metrics.</summary>
    protected async Task<(long loads, long unloads)> ModelChurn(UtProcess silo, string model) =>
        (await Counter(silo, "ut_model_loads_total", model), await Counter(silo, "ut_model_unloads_total", model));

    /// <summary>A counter from a silo's ops port's metrics, summed over its series (those of <paramref name="model"/>).</summary>
    private async Task<long> Counter(UtProcess silo, string name, string? model = null)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_opsPorts[silo]}") };
        var metrics = await http.GetStringAsync("metrics");
        return System.Text.RegularExpressions.Regex.Matches(metrics, $@"^{name}(\{{[^}}]*\}})? (\d+)", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Where(m => model is null || m.Groups[1].Value.Contains($"ut_model=\"{model}\"", StringComparison.Ordinal))
            .Sum(m => long.Parse(m.Groups[2].Value));
    }
}
