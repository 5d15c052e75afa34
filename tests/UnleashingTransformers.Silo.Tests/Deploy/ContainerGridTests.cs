using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using UnleashingTransformers.Testing;
using Xunit;
using k8s;
using k8s.Models;

namespace UnleashingTransformers.Silo.Tests.Deploy;

/// <summary>
/// The grid in real containers of the image deploy/image.sh builds: silos in podman containers on the host's
/// loopback, redis-server on the host, jobs submitted from the host. A window container killed and the canvas
/// container stopped (SIGTERM) and started again mid-job: the same PNG bytes as the embedded run. Then the
/// rendered cpu overlay played by podman as Kubernetes pods.
/// </summary>
public sealed class ContainerGridTests : GridTest
{
    private static readonly string ConfigDir = Path.Combine(Manifests.Repo, "deploy", "silo");
    private const string ImageModels = "/app/models/terrain";

    private static string[] SiloArgs(string config, RedisServer redis, string name, params string[] overrides) =>
    [
        "silo", "--config", $"/etc/ut/{config}", "Cluster:Provider=redis", $"Cluster:Redis={redis.Endpoint}", $"Cluster:SiloName={name}",
        $"Cluster:SiloPort={Ports.Free()}", $"Cluster:GatewayPort={Ports.Free()}",
        $"Models:0:Prior={ImageModels}/absorbing_ema.th", $"Models:0:VqGan={ImageModels}/vqgan_ema.th", .. overrides,
    ];

    [PodmanFact]
    public async Task AKilledWindowContainerAndAStoppedCanvasContainerChangeNoByte()
    {
        Podman.Build();
        var expectedA = Embedded("32x64", 11, "--steps", "256");   // long enough to stop containers in the middle
        var expectedB = Embedded("32x64", 12, "--steps", "256");
        using var redis = new RedisServer();
        var run = Guid.NewGuid().ToString("N")[..8];
        string[] config = [$"{ConfigDir}:/etc/ut:ro"];
        var windowOps = Ports.Free();
        using var w1 = new Container($"ut-{run}-w1", config, SiloArgs("window.json", redis, $"ut-{run}-w1", $"Ops:Port={windowOps}"));
        using var w2 = new Container($"ut-{run}-w2", config, SiloArgs("window.json", redis, $"ut-{run}-w2"));
        var port = Ports.Free();
        Directory.CreateDirectory(P("state"));
        using var canvas = new Container($"ut-{run}-canvas", [.. config, $"{P("state")}:/state"],
            SiloArgs("canvas.json", redis, $"ut-{run}-canvas", "StateDirectory=/state", $"Gateway:Port={port}"));
        foreach (var c in new[] { w1, w2, canvas }) c.WaitFor("silo: started");
        var http = await ReadyGateway(port);

        // A window container killed mid-job: its windows go to the other replica.
        var a = await Submit(http, new { height = 32, width = 64, seed = 11, steps = 256 });
        await WaitForStep(http, a, 40);
        Assert.Equal("running", await State(http, a));
        Podman.Ok("kill", w2.Name);
        await WaitForState(http, a, "done", 120);
        Assert.Equal(expectedA, await http.GetByteArrayAsync($"jobs/{a}/image"));
        // The replica's metrics, scraped from outside its container as Prometheus would.
        Assert.Contains($"{OpsPortTests.QueueDepthMetric}{{", await new HttpClient().GetStringAsync($"http://127.0.0.1:{windowOps}/metrics"));

        // The canvas container stopped (SIGTERM) mid-job saves the job; started again, it resumes there.
        var b = await Submit(http, new { height = 32, width = 64, seed = 12, steps = 256 });
        await WaitForStep(http, b, 40);
        Podman.Ok("stop", "-t", "40", canvas.Name);
        Assert.Equal(0, canvas.ExitCode());
        Assert.Contains("silo: stopped", canvas.Logs());
        Podman.Ok("start", canvas.Name);
        var resumed = canvas.WaitFor($"job {b} resuming at step");
        Assert.True(int.Parse(resumed.Split("resuming at step ")[1]) >= 40, resumed);
        http = await ReadyGateway(port);
        await WaitForState(http, b, "done", 120);
        Assert.Equal(expectedB, await http.GetByteArrayAsync($"jobs/{b}/image"));
        // Written by the container to its mounted state volume.
        Assert.Equal(expectedB, File.ReadAllBytes(Path.Combine(P("state"), "images", $"{b}.png")));
    }

    /// <summary>
    /// <c>podman kube play</c> of the rendered cpu overlay's Deployments, ConfigMaps and claims. What podman 4.3
    /// cannot play is changed in a copy, and only that: containerPorts (it maps them only on bridge networks,
    /// not used here: the pods share the host's network, so window and canvas get ports of their own and the
    /// host's redis), the fieldRefs metadata.namespace and status.podIP (unsupported: literal values), Secret
    /// references (it reads only secrets it made: the rendered token values), the models claim (a hostPath to
    /// the bundled model), and the probes (it runs them as healthchecks needing curl). Not played at all:
    /// StatefulSet, Services, RBAC, the disruption budget and the operators' resources (no API server);
    /// the trainer (it needs a latent cache).
    /// </summary>
    [PodmanFact(kubectl: true)]
    public async Task TheCpuOverlayPlaysAsPodsThatServeAJob()
    {
        Podman.Build();
        var m = Manifests.Render("cpu", P("render"));
        // The store with the password of the rendered ut-redis Secret, as the manifests' redis has it.
        using var redis = new RedisServer(password: m.Tokens["redis"]);
        var secrets = m.All<V1Secret>().ToDictionary(x => x.Metadata.Name);
        var (gateway, windowOps) = (Ports.Free(), Ports.Free());
        var plays = new List<object>();
        foreach (var o in m.Objects)
        {
            switch (o)
            {
                case V1ConfigMap map when map.Data.ContainsKey("window.json"):
                    map.Data["window.json"] = Edit(map.Data["window.json"], windowOps, null, redis);
                    map.Data["canvas.json"] = Edit(map.Data["canvas.json"], Ports.Free(), gateway, redis);
                    plays.Add(map);
                    break;
                case V1ConfigMap or V1PersistentVolumeClaim:
                    plays.Add(o);
                    break;
                case V1Deployment d when d.Metadata.Name != "ut-trainer":
                    d.Spec.Replicas = 1;
                    var silo = d.Spec.Template.Spec.Containers.Single();
                    silo.Image = Podman.Image;
                    silo.Ports = null;
                    (silo.LivenessProbe, silo.ReadinessProbe, silo.StartupProbe) = (null, null, null);
                    foreach (var e in silo.Env)
                    {
                        if (e.ValueFrom?.FieldRef?.FieldPath is "metadata.namespace" or "status.podIP")
                            (e.Value, e.ValueFrom) = (e.ValueFrom.FieldRef.FieldPath == "status.podIP" ? "127.0.0.1" : "default", null);
                        else if (e.ValueFrom?.SecretKeyRef is { } secret)
                            (e.Value, e.ValueFrom) = (m.Tokens[secret.Key], null);
                    }
                    foreach (var (key, value) in Podman.BlasEnvironment) silo.Env.Add(new V1EnvVar { Name = key, Value = value });
                    foreach (var v in d.Spec.Template.Spec.Volumes.Where(v => v.PersistentVolumeClaim?.ClaimName == "ut-models"))
                        (v.PersistentVolumeClaim, v.HostPath) = (null, new V1HostPathVolumeSource { Path = Models, Type = "Directory" });
                    // Secret volumes (the TLS set, the redis password) as the kubelet writes them: a folder of files.
                    foreach (var v in d.Spec.Template.Spec.Volumes.Where(v => v.Secret is not null))
                    {
                        var folder = SecretFolder(secrets[v.Secret!.SecretName], v.Secret.Items);
                        (v.Secret, v.HostPath) = (null, new V1HostPathVolumeSource { Path = folder, Type = "Directory" });
                    }
                    // podman makes the claims' volumes root-owned and does not apply fsGroup as the kubelet does: the
                    // pods run as the image's user here; the read-only root, no privilege and no capabilities stay.
                    var security = d.Spec.Template.Spec.SecurityContext!;
                    (security.RunAsUser, security.RunAsGroup, security.RunAsNonRoot, security.FsGroup) = (null, null, null, null);
                    plays.Add(d);
                    break;
            }
        }
        var file = P("play.yaml");
        File.WriteAllText(file, string.Join("\n---\n", plays.Select(KubernetesYaml.Serialize)));
        try
        {
            RemovePods(plays); // what an interrupted earlier run left behind
            Podman.Ok("kube", "play", "--network", "host", file);
            var http = await ReadyGateway(gateway, 90);
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", m.Tokens["gateway"]);
            var id = await Submit(http, new { height = 16, width = 32, seed = 5 });
            await WaitForState(http, id, "done", 120);
            Assert.Equal(Embedded("16x32", 5), await http.GetByteArrayAsync($"jobs/{id}/image"));
            // The window pod's metrics want the ops token from the Secret, as its PodMonitor sends it.
            using var scrape = new HttpClient();
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await scrape.GetAsync($"http://127.0.0.1:{windowOps}/metrics")).StatusCode);
            scrape.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", m.Tokens["ops"]);
            Assert.Contains("ut_window_requests_total", await scrape.GetStringAsync($"http://127.0.0.1:{windowOps}/metrics"));
        }
        finally
        {
            Podman.Run("kube", "down", file);
            RemovePods(plays);
            foreach (var claim in plays.OfType<V1PersistentVolumeClaim>()) Podman.Run("volume", "rm", "-f", claim.Metadata.Name);
        }
    }

    /// <summary>A Secret's keys (or the items named) as files in a folder of their own.</summary>
    private string SecretFolder(V1Secret secret, IList<V1KeyToPath>? items)
    {
        var dir = P($"secrets/{secret.Metadata.Name}");
        Directory.CreateDirectory(dir);
        foreach (var (key, value) in secret.Data)
            if (items is null || items.Any(i => i.Key == key))
                File.WriteAllBytes(Path.Combine(dir, items?.First(i => i.Key == key).Path ?? key), value);
        return dir;
    }

    // kube play names a Deployment's pod after it; a pod it failed to start stays behind as "created".
    private static void RemovePods(IEnumerable<object> plays)
    {
        foreach (var d in plays.OfType<V1Deployment>()) Podman.Run("pod", "rm", "-f", $"{d.Metadata.Name}-pod-0");
    }

    /// <summary>A silo.json of the overlay, on the host's loopback: the host's redis and ports of its own.</summary>
    private static string Edit(string json, int ops, int? gateway, RedisServer redis)
    {
        var doc = JsonNode.Parse(json)!.AsObject();
        doc["Cluster"]!["Redis"] = redis.Endpoint;
        doc["Cluster"]!["SiloPort"] = Ports.Free();
        doc["Cluster"]!["GatewayPort"] = Ports.Free();
        doc["Ops"]!["Port"] = ops;
        if (gateway is { } port) doc["Gateway"]!["Port"] = port;
        return doc.ToJsonString();
    }
}

/// <summary>A fact that runs containers: skipped, saying why, only where podman cannot run.</summary>
public sealed class PodmanFactAttribute : FactAttribute
{
    public PodmanFactAttribute(bool kubectl = false)
    {
        if (Podman.CannotRun() is { } why) Skip = why;
        else if (kubectl && Manifests.CannotRender() is { } noKubectl) Skip = noKubectl;
    }
}
