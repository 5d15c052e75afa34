using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using UnleashingTransformers.Testing;
using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>Every silo's ops port (Ops:Port): the probes orchestrators ask and the metrics autoscalers read.</summary>
public sealed class OpsPortTests : GridTest
{
    /// <summary>The window queue depth as Prometheus names it (the autoscaler's query in deploy/k8s uses it).</summary>
    public const string QueueDepthMetric = "ut_window_queue_depth";
    public const string QueueAgeMetric = "ut_window_queue_age_seconds";

    [Fact]
    public async Task AWindowSiloAnswersProbesOpenlyAndMetricsOnlyWithTheToken()
    {
        using var redis = new RedisServer();
        var ops = Ports.Free();
        string[] offLoopback = ["Ops:Host=0.0.0.0", $"Ops:Port={ops}"];
        Assert.Contains("set Ops:Token", Ut.Fails(["silo", "--config", Path.Combine(Deploy, "window.json"), .. Cluster(redis), .. offLoopback]));
        using var window = WindowSilo(redis, [.. offLoopback, "Ops:Token=m3trics"]);
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ops}") };
        Assert.Equal("ok", await http.GetStringAsync("healthz"));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await http.GetAsync("readyz")).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal("ready", await http.GetStringAsync("readyz"));

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("metrics")).StatusCode);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("metrics")).StatusCode);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "m3trics");
        // The queues are measured per model (what an autoscaler scales a model's window silos on).
        var metrics = await http.GetStringAsync("metrics");
        Assert.Matches($"(?m)^{QueueDepthMetric}{{[^}}]*ut_model=\"terrain\"[^}}]*}} 0", metrics);
        Assert.Matches($"(?m)^{QueueAgeMetric}{{[^}}]*ut_model=\"terrain\"[^}}]*}} 0", metrics);
        // The ops port serves nothing of the gateway's, even with its token.
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("jobs")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("dashboard/")).StatusCode);

        // Served window requests show up in the window silo's own metrics.
        var gateway = Ports.Free();
        var canvasOps = Ports.Free();
        using var canvas = CanvasSilo(redis, gateway, $"Ops:Port={canvasOps}");
        await ReadyGateway(gateway);
        Ut.Ok("submit", "--gateway", $"http://127.0.0.1:{gateway}", "--shape", "8x8", "--steps", "8", "--out", P("x.png"));
        var served = Regex.Match(await http.GetStringAsync("metrics"), @"^ut_window_requests_total\{[^}]*\} (\d+)", RegexOptions.Multiline);
        Assert.True(served.Success && int.Parse(served.Groups[1].Value) > 0, "ut_window_requests_total missing or zero");
        // A gateway silo serves its metrics on its ops port (on loopback: no token), not on the API's port.
        using var plain = new HttpClient();
        Assert.Contains("ut_canvas_tokens_total{", await plain.GetStringAsync($"http://127.0.0.1:{canvasOps}/metrics"));
        Assert.Equal(HttpStatusCode.NotFound, (await plain.GetAsync($"http://127.0.0.1:{gateway}/metrics")).StatusCode);
    }
}
