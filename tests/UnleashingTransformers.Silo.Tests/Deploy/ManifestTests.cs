using System.Text.Json.Nodes;
using UnleashingTransformers.Testing;
using Xunit;
using k8s;
using k8s.Models;

namespace UnleashingTransformers.Silo.Tests.Deploy;

/// <summary>
/// deploy/k8s rendered (both overlays) and checked as a cluster could not: every field against the
/// Kubernetes models, and the wiring against the silo itself (its configuration loader, ports, probes,
/// Orleans' Kubernetes hosting, what each reference points at).
/// </summary>
public sealed class ManifestTests : TempDirTest
{
    public static TheoryData<string> Overlays => new() { "cpu", "gpu" };

    private Manifests Render(string overlay) => Manifests.Render(overlay, P(overlay));

    /// <summary>A silo's configuration as its container would load it, the model files pointed at real ones.</summary>
    private SiloConfig Load(Manifests m, V1Deployment deployment, V1Container silo)
    {
        var path = P($"{deployment.Metadata.Name}.json");
        File.WriteAllText(path, m.SiloJson(deployment, silo));
        var models = Path.Combine(AppContext.BaseDirectory, "models", "terrain");
        // The container's UT__ variables as the overrides they are (this process's own environment stays out).
        var environment = m.Environment(deployment, silo).Where(e => e.name.StartsWith("UT__", StringComparison.Ordinal))
            .Select(e => $"{e.name["UT__".Length..].Replace("__", ":")}={e.value}");
        return SiloConfig.Load(path,
        [
            .. environment,
            $"Models:Prior={Path.Combine(models, "absorbing_ema.th")}", $"Models:VqGan={Path.Combine(models, "vqgan_ema.th")}",
            $"Trainer:Prior:Latents={Path.Combine(models, "absorbing_ema.th")}",
        ], environmentPrefix: "UT_TEST_NONE__");
    }

    [KubectlTheory, MemberData(nameof(Overlays))]
    public void EveryObjectLoadsStrictlyAndAMisspelledFieldWouldNot(string overlay)
    {
        var m = Render(overlay);
        var kinds = m.Objects.Select(o => ((IKubernetesObject)o).Kind).ToHashSet();
        foreach (var kind in new[] { "Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim", "PodDisruptionBudget",
                     "ServiceAccount", "Role", "RoleBinding", "ScaledObject", "PodMonitor" })
            Assert.Contains(kind, kinds);
        Assert.Equal(3, m.Silos().Count());

        var typo = m.Yaml.Replace("terminationGracePeriodSeconds", "terminationGracePeriod");
        var e = Assert.ThrowsAny<Exception>(() => KubernetesYaml.LoadAllFromString(typo, CustomResources.TypeMap, strict: true));
        Assert.Contains("terminationGracePeriod", e.Message);
        var crdTypo = m.Yaml.Replace("minReplicaCount", "minReplicas");
        Assert.ThrowsAny<Exception>(() => KubernetesYaml.LoadAllFromString(crdTypo, CustomResources.TypeMap, strict: true));
    }

    [KubectlTheory, MemberData(nameof(Overlays))]
    public void EverySiloPodIsWiredForOrleansKubernetesHostingWithItsOwnConfiguration(string overlay)
    {
        var m = Render(overlay);
        foreach (var (deployment, silo) in m.Silos())
        {
            var name = deployment.Metadata.Name;
            var config = Load(m, deployment, silo);
            var labels = deployment.Spec.Template.Metadata.Labels;
            Assert.Equal(config.Cluster.ServiceId, labels["orleans/serviceId"]);
            Assert.Equal(config.Cluster.ClusterId, labels["orleans/clusterId"]);
            Assert.True(deployment.Spec.Selector.MatchLabels.All(l => labels[l.Key] == l.Value), name);

            var env = silo.Env.ToDictionary(e => e.Name);
            foreach (var (variable, field) in new[]
                     {
                         ("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"), ("POD_IP", "status.podIP"),
                         ("ORLEANS_SERVICE_ID", "metadata.labels['orleans/serviceId']"), ("ORLEANS_CLUSTER_ID", "metadata.labels['orleans/clusterId']"),
                         ("UT__Cluster__SiloName", "metadata.name"),
                     })
                Assert.True(env.TryGetValue(variable, out var e) && e.ValueFrom?.FieldRef?.FieldPath == field, $"{name}: {variable} from {field}");

            // Orleans' Kubernetes hosting reads pods: the pod's account is bound to a role that may.
            var account = deployment.Spec.Template.Spec.ServiceAccountName;
            Assert.NotNull(m.All<V1ServiceAccount>().SingleOrDefault(a => a.Metadata.Name == account));
            var binding = m.All<V1RoleBinding>().Single(b => b.Subjects.Any(s => s.Kind == "ServiceAccount" && s.Name == account));
            var rules = m.One<V1Role>(binding.RoleRef.Name).Rules.Where(r => r.Resources.Contains("pods")).SelectMany(r => r.Verbs).ToHashSet();
            Assert.Superset(new HashSet<string> { "get", "list", "watch" }, rules);

            // Ports are those the configuration listens on; probes ask the ops port.
            var ports = silo.Ports.ToDictionary(p => p.Name, p => p.ContainerPort);
            Assert.Equal(config.Cluster.SiloPort, ports["silo"]);
            Assert.Equal(config.Cluster.GatewayPort, ports["orleans-gw"]);
            Assert.Equal(config.Ops.Port, ports["ops"]);
            Assert.Equal(("/healthz", "ops"), (silo.LivenessProbe.HttpGet.Path, silo.LivenessProbe.HttpGet.Port.Value));
            Assert.Equal(("/readyz", "ops"), (silo.ReadinessProbe.HttpGet.Path, silo.ReadinessProbe.HttpGet.Port.Value));
            Assert.Equal(("/healthz", "ops"), (silo.StartupProbe.HttpGet.Path, silo.StartupProbe.HttpGet.Port.Value));
            // Bound off loopback in a pod: the token the silo then requires comes from the Secret.
            Assert.False(config.Ops.OnLoopback);
            Assert.NotNull(env["UT__Ops__Token"].ValueFrom.SecretKeyRef);
            if (config.Has("gateway"))
            {
                Assert.Equal(config.Gateway.Port, ports["http"]);
                Assert.NotNull(env["UT__Gateway__Token"].ValueFrom.SecretKeyRef);
                var service = m.One<V1Service>("ut-gateway");
                Assert.True(service.Spec.Selector.All(s => labels[s.Key] == s.Value));
                Assert.Equal("http", service.Spec.Ports.Single().TargetPort.Value);
            }

            // libtorch threads as many as the CPU limit.
            Assert.Equal(config.Threads, (int)silo.Resources.Limits["cpu"].ToDecimal());
            // Long enough to persist: the silo's shutdown (every running job saves its step) after preStop.
            var preStop = silo.Lifecycle?.PreStop?.Exec?.Command is { } cmd && cmd[0] == "sleep" ? int.Parse(cmd[1]) : 0;
            Assert.True(deployment.Spec.Template.Spec.TerminationGracePeriodSeconds > preStop + SiloHost.ShutdownTimeout.TotalSeconds,
                $"{name}: grace {deployment.Spec.Template.Spec.TerminationGracePeriodSeconds} s");
        }
        Assert.True(m.One<V1Deployment>("ut-canvas").Spec.Template.Spec.Containers[0].Lifecycle.PreStop is not null);
    }

    [KubectlTheory, MemberData(nameof(Overlays))]
    public void EveryReferencePointsAtSomethingThatExists(string overlay)
    {
        var m = Render(overlay);
        var secrets = m.All<V1Secret>().ToDictionary(s => s.Metadata.Name);
        var maps = m.All<V1ConfigMap>().ToDictionary(c => c.Metadata.Name);
        var claims = m.All<V1PersistentVolumeClaim>().Select(c => c.Metadata.Name).ToHashSet();
        foreach (var (deployment, silo) in m.Silos())
        {
            var spec = deployment.Spec.Template.Spec;
            foreach (var e in silo.Env.Where(e => e.ValueFrom?.SecretKeyRef is not null))
                Assert.True(secrets.TryGetValue(e.ValueFrom.SecretKeyRef.Name, out var s) && s.Data.ContainsKey(e.ValueFrom.SecretKeyRef.Key), $"{e.Name}: no such secret key");
            foreach (var from in silo.EnvFrom) Assert.Contains(from.ConfigMapRef.Name, maps.Keys);
            foreach (var volume in spec.Volumes)
            {
                if (volume.ConfigMap is { } map) Assert.Contains(map.Name, maps.Keys);
                if (volume.PersistentVolumeClaim is { } claim) Assert.Contains(claim.ClaimName, claims);
            }
            Assert.All(silo.VolumeMounts, mount => Assert.Contains(spec.Volumes, v => v.Name == mount.Name));

            // The files a configuration names lie on the volumes mounted there; state on a writable one.
            var raw = JsonNode.Parse(m.SiloJson(deployment, silo))!;
            var paths = new[] { raw["Models"]?["Prior"], raw["Models"]?["VqGan"], raw["Trainer"]?["Prior"]?["Latents"] }.OfType<JsonNode>().Select(n => n.GetValue<string>());
            foreach (var path in paths)
                Assert.True(silo.VolumeMounts.Any(v => path.StartsWith(v.MountPath + "/", StringComparison.Ordinal)), $"{deployment.Metadata.Name}: {path} is on no volume");
            foreach (var writable in new[] { raw["StateDirectory"], raw["Trainer"]?["Prior"]?["OutDir"] }.OfType<JsonNode>().Select(n => n.GetValue<string>()))
                Assert.True(silo.VolumeMounts.Any(v => v.ReadOnlyProperty != true && (writable + "/").StartsWith(v.MountPath + "/", StringComparison.Ordinal)), $"{deployment.Metadata.Name}: {writable} is not writable");
        }

        // The cluster store every silo names is the redis the manifests run, with an append-only file on a volume.
        var redis = m.One<V1StatefulSet>("redis");
        var args = redis.Spec.Template.Spec.Containers.Single().Args;
        Assert.Equal("yes", args[args.IndexOf("--appendonly") + 1]);
        var dataMount = redis.Spec.Template.Spec.Containers.Single().VolumeMounts.Single(v => v.MountPath == args[args.IndexOf("--dir") + 1]);
        Assert.Contains(redis.Spec.VolumeClaimTemplates, t => t.Metadata.Name == dataMount.Name);
        var redisService = m.One<V1Service>("redis");
        foreach (var (deployment, silo) in m.Silos())
            Assert.Equal($"{redisService.Metadata.Name}:{redisService.Spec.Ports.Single().Port}", Load(m, deployment, silo).Cluster.Redis);

        // Disruption budget, autoscaler and monitor select what exists.
        var window = m.One<V1Deployment>("ut-window");
        var windowLabels = window.Spec.Template.Metadata.Labels;
        Assert.True(m.One<V1PodDisruptionBudget>("ut-window").Spec.Selector.MatchLabels.All(l => windowLabels[l.Key] == l.Value));
        var scaler = m.One<CustomResources.ScaledObject>("ut-window");
        Assert.Equal(window.Metadata.Name, scaler.Spec.ScaleTargetRef.Name);
        Assert.Contains(OpsPortTests.QueueDepthMetric, scaler.Spec.Triggers.Single(t => t.Type == "prometheus").Metadata["query"]);
        var monitor = m.One<CustomResources.PodMonitor>("ut-silos");
        var endpoint = monitor.Spec.PodMetricsEndpoints.Single();
        Assert.Contains(m.Silos(), s => s.silo.Ports.Any(p => p.Name == endpoint.Port));
        Assert.True(secrets[endpoint.Authorization!.Credentials!.Name].Data.ContainsKey(endpoint.Authorization.Credentials.Key));
        var selected = monitor.Spec.Selector.MatchExpressions.Single().Values;
        Assert.All(m.Silos(), s => Assert.Contains(s.deployment.Spec.Template.Metadata.Labels["app"], selected));
    }

    [KubectlTheory, MemberData(nameof(Overlays))]
    public void GPUsAreAskedForOnlyByWindowSilosOfTheGpuOverlayOneReplicaEach(string overlay)
    {
        var m = Render(overlay);
        var images = new HashSet<string>();
        foreach (var (deployment, silo) in m.Silos())
        {
            var config = Load(m, deployment, silo);
            var gpus = silo.Resources.Limits.TryGetValue("nvidia.com/gpu", out var q) ? (int)q.ToDecimal() : 0;
            var spec = deployment.Spec.Template.Spec;
            if (overlay == "gpu" && config.Has("window"))
            {
                Assert.Equal("cuda", config.Device);
                Assert.Equal(config.Window.Replicas, gpus);
                Assert.Equal("true", spec.NodeSelector["nvidia.com/gpu.present"]);
                Assert.Contains(spec.Tolerations, t => t.Key == "nvidia.com/gpu" && t.Effect == "NoSchedule");
                Assert.Equal("localhost/ut-cuda:dev", silo.Image);
            }
            else
            {
                Assert.Equal(0, gpus);
                Assert.Equal("cpu", config.Device);
                Assert.Null(spec.Tolerations);
                images.Add(silo.Image);
            }
        }
        Assert.Equal(["localhost/ut:dev"], images);
        Assert.DoesNotContain(m.All<V1Deployment>().Concat<object>(m.All<V1StatefulSet>()), o =>
            o is V1Deployment d && d.Metadata.Name != "ut-window" && d.Spec.Template.Spec.Containers.Any(c => c.Resources?.Limits?.ContainsKey("nvidia.com/gpu") == true));
    }
}

/// <summary>A theory on rendered manifests: skipped, saying why, where kubectl cannot render them.</summary>
public sealed class KubectlTheoryAttribute : TheoryAttribute
{
    public KubectlTheoryAttribute()
    {
        if (Manifests.CannotRender() is { } why) Skip = why;
    }
}
