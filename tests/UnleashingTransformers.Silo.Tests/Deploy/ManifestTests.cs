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
        var json = JsonNode.Parse(m.SiloJson(deployment, silo))!.AsObject();
        // Files the silo reads from mounted Secrets (the TLS set, the redis password), where this test wrote them.
        var cluster = json["Cluster"]!.AsObject();
        foreach (var key in new[] { "CaFile", "CertificateFile", "KeyFile" })
            if (cluster["Tls"]?[key]?.GetValue<string>() is { } file) cluster["Tls"]![key] = SecretFile(m, deployment, silo, file);
        if (cluster["RedisPasswordFile"]?.GetValue<string>() is { } password) cluster["RedisPasswordFile"] = SecretFile(m, deployment, silo, password);
        File.WriteAllText(path, json.ToJsonString());
        var models = Path.Combine(AppContext.BaseDirectory, "models", "terrain");
        // The container's UT__ variables as the overrides they are (this process's own environment stays out).
        var environment = m.Environment(deployment, silo).Where(e => e.name.StartsWith("UT__", StringComparison.Ordinal))
            .Select(e => $"{e.name["UT__".Length..].Replace("__", ":")}={e.value}");
        string[] listed = json["Models"] is null ? [] : [$"Models:0:Prior={Path.Combine(models, "absorbing_ema.th")}", $"Models:0:VqGan={Path.Combine(models, "vqgan_ema.th")}"];
        return SiloConfig.Load(path, [.. environment, .. listed, $"Trainer:Prior:Latents={Path.Combine(models, "absorbing_ema.th")}"], environmentPrefix: "UT_TEST_NONE__");
    }

    /// <summary>The file a container sees at <paramref name="path"/>, from the Secret mounted there (fails if none is).</summary>
    private string SecretFile(Manifests m, V1Deployment deployment, V1Container silo, string path)
    {
        var mount = silo.VolumeMounts.Where(v => path.StartsWith(v.MountPath + "/", StringComparison.Ordinal)).MaxBy(v => v.MountPath.Length)!;
        var volume = deployment.Spec.Template.Spec.Volumes.Single(v => v.Name == mount.Name);
        Assert.True(volume.Secret is not null, $"{path} of {deployment.Metadata.Name} is not from a Secret (volume {volume.Name})");
        var name = path[(mount.MountPath.Length + 1)..];
        var key = volume.Secret.Items?.Single(i => i.Path == name).Key ?? name;
        var local = P($"secrets/{deployment.Metadata.Name}/{volume.Name}/{name}");
        Directory.CreateDirectory(Path.GetDirectoryName(local)!);
        File.WriteAllBytes(local, m.One<V1Secret>(volume.Secret.SecretName).Data[key]);
        return local;
    }

    [KubectlTheory, MemberData(nameof(Overlays))]
    public void EveryPodRunsUnprivilegedAndOnlyTheGatewayPortIsOpenBeyondTheGridsOwnPods(string overlay)
    {
        var m = Render(overlay);
        var pods = m.All<V1Deployment>().Select(d => (name: d.Metadata.Name, pod: d.Spec.Template))
            .Concat(m.All<V1StatefulSet>().Select(s => (name: s.Metadata.Name, pod: s.Spec.Template))).ToList();
        Assert.Equal(4, pods.Count);
        foreach (var (name, pod) in pods)
        {
            var security = pod.Spec.SecurityContext;
            Assert.True(security?.RunAsNonRoot == true && security.RunAsUser > 0, $"{name} may run as root");
            Assert.Equal("RuntimeDefault", security.SeccompProfile?.Type);
            foreach (var c in pod.Spec.Containers)
            {
                Assert.True(c.SecurityContext is { AllowPrivilegeEscalation: false, ReadOnlyRootFilesystem: true }, $"{name}/{c.Name}: privilege escalation or a writable root");
                Assert.Equal(["ALL"], c.SecurityContext.Capabilities.Drop);
                Assert.True(c.Resources?.Limits?.ContainsKey("cpu") == true && c.Resources.Limits.ContainsKey("memory"), $"{name}/{c.Name} has no cpu and memory limits");
            }
        }

        // Who may reach each named port of each pod, as the NetworkPolicies say (null: anyone).
        var policies = m.All<V1NetworkPolicy>().ToList();
        Assert.Contains(policies, p => p.Spec.PodSelector.MatchLabels is null or { Count: 0 } && p.Spec.PolicyTypes.Contains("Ingress") && p.Spec.Ingress is null or { Count: 0 });
        bool Selects(V1LabelSelector selector, IDictionary<string, string> labels) => (selector.MatchLabels ?? new Dictionary<string, string>()).All(l => labels.TryGetValue(l.Key, out var v)
            && v == l.Value);
        List<V1NetworkPolicyPeer>? Sources(V1PodTemplateSpec pod, string port)
        {
            var peers = new List<V1NetworkPolicyPeer>();
            foreach (var rule in policies.Where(p => Selects(p.Spec.PodSelector, pod.Metadata.Labels)).SelectMany(p => p.Spec.Ingress ?? []))
            {
                if (rule.Ports is { Count: > 0 } ports && !ports.Any(p => p.Port.Value == port)) continue;
                if (rule.FromProperty is null or { Count: 0 }) return null;
                peers.AddRange(rule.FromProperty);
            }
            return peers;
        }
        var silos = m.Silos().Select(s => s.deployment.Spec.Template).ToList();
        // A peer of the grid's own: pods of this namespace, every one it selects a silo pod (all of them, or the trainer's ranks).
        var gridPods = (V1NetworkPolicyPeer peer) => peer.NamespaceSelector is null && peer.IpBlock is null && peer.PodSelector is { } selector
            && !Selects(selector, new Dictionary<string, string>()) && pods.Where(p => Selects(selector, p.pod.Metadata.Labels)).All(p => silos.Contains(p.pod))
            && silos.Any(s => Selects(selector, s.Metadata.Labels));
        foreach (var (name, pod) in pods)
        {
            foreach (var port in pod.Spec.Containers.SelectMany(c => c.Ports ?? []))
            {
                var from = Sources(pod, port.Name);
                switch (port.Name)
                {
                    case "http":
                        Assert.Null(from);   // the gateway: from anywhere (behind its token)
                        break;
                    case "silo" or "orleans-gw" or "redis":
                        Assert.True(from is { Count: > 0 } && from.All(gridPods), $"{name}:{port.Name} is reachable from beyond the grid's silo pods");
                        break;
                    case "ops":
                        Assert.True(from is not null && from.All(p => p.NamespaceSelector is not null || gridPods(p)), $"{name}:ops is open to anyone");
                        break;
                    case "ranks":   // a data-parallel run's store (and Gloo's and NCCL's own ports): its trainer pods only
                        Assert.True(from is { Count: > 0 } && from.All(p => p.PodSelector is { } s && p.NamespaceSelector is null && Selects(s, pod.Metadata.Labels)
                            && s.MatchLabels is { } l && l.TryGetValue("app", out var app) && app == "ut-trainer"), $"{name}:ranks is reachable from beyond the trainer pods");
                        break;
                    default:
                        Assert.Fail($"{name}: port {port.Name} has no policy decision here");
                        break;
                }
            }
        }

        // Secrets stay in Secrets: no ConfigMap holds a token, a password or a private key, and every silo has its
        // TLS set and the redis password from mounted Secrets.
        foreach (var map in m.All<V1ConfigMap>())
            foreach (var value in map.Data.Values)
            {
                Assert.DoesNotContain("PRIVATE KEY", value);
                Assert.All(m.Tokens.Values, t => Assert.DoesNotContain(t, value));
            }
        foreach (var (deployment, silo) in m.Silos())
        {
            var config = Load(m, deployment, silo);
            Assert.True(config.Cluster.Tls.Enabled, $"{deployment.Metadata.Name} has no Cluster:Tls");
            Assert.NotEmpty(config.Cluster.RedisPasswordFile);
            Assert.Equal(m.Tokens["redis"], File.ReadAllText(config.Cluster.RedisPasswordFile).Trim());
        }
        var redis = m.One<V1StatefulSet>("redis").Spec.Template.Spec.Containers.Single();
        Assert.Contains("--requirepass", redis.Args);
        var secret = m.One<V1Secret>(redis.Env.Single(e => e.Name == "REDIS_PASSWORD").ValueFrom.SecretKeyRef.Name);
        Assert.Equal(m.Tokens["redis"], System.Text.Encoding.UTF8.GetString(secret.Data["password"]));
    }

    [KubectlTheory, MemberData(nameof(Overlays))]
    public void EveryObjectLoadsStrictlyAndAMisspelledFieldWouldNot(string overlay)
    {
        var m = Render(overlay);
        var kinds = m.Objects.Select(o => ((IKubernetesObject)o).Kind).ToHashSet();
        foreach (var kind in new[] { "Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim", "PodDisruptionBudget",
                     "ServiceAccount", "Role", "RoleBinding", "ScaledObject", "PodMonitor", "NetworkPolicy" })
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
            var models = raw["Models"]?.AsArray().SelectMany(model => new[] { model!["Prior"], model["VqGan"] }) ?? [];
            var paths = models.Append(raw["Trainer"]?["Prior"]?["Latents"]).OfType<JsonNode>().Select(n => n.GetValue<string>());
            foreach (var path in paths)
                Assert.True(silo.VolumeMounts.Any(v => path.StartsWith(v.MountPath + "/", StringComparison.Ordinal)), $"{deployment.Metadata.Name}: {path} is on no volume");
            foreach (var writable in new[] { raw["StateDirectory"], raw["Trainer"]?["Prior"]?["OutDir"] }.OfType<JsonNode>().Select(n => n.GetValue<string>()))
                Assert.True(silo.VolumeMounts.Any(v => v.ReadOnlyProperty != true && (writable + "/").StartsWith(v.MountPath + "/", StringComparison.Ordinal)),
                    $"{deployment.Metadata.Name}: {writable} is not writable");
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
        // It scales on the queues of the model the window silos list first.
        var model = Load(m, window, m.Silos().Single(s => s.deployment == window).silo).Models[0].Name;
        Assert.Equal([$"sum({OpsPortTests.QueueDepthMetric}{{ut_model=\"{model}\"}})", $"max({OpsPortTests.QueueAgeMetric}{{ut_model=\"{model}\"}})"],
            scaler.Spec.Triggers.Where(t => t.Type == "prometheus").Select(t => t.Metadata["query"]));
        var monitor = m.One<CustomResources.PodMonitor>("ut-silos");
        var endpoint = monitor.Spec.PodMetricsEndpoints.Single();
        Assert.Contains(m.Silos(), s => s.silo.Ports.Any(p => p.Name == endpoint.Port));
        Assert.True(secrets[endpoint.Authorization!.Credentials!.Name].Data.ContainsKey(endpoint.Authorization.Credentials.Key));
        var selected = monitor.Spec.Selector.MatchExpressions.Single().Values;
        Assert.All(m.Silos(), s => Assert.Contains(s.deployment.Spec.Template.Metadata.Labels["app"], selected));
    }

    [KubectlTheory, MemberData(nameof(Overlays))]
    public void GPUsAreAskedForOnlyByWindowAndTrainerSilosOfTheGpuOverlayOneEach(string overlay)
    {
        var m = Render(overlay);
        var images = new HashSet<string>();
        foreach (var (deployment, silo) in m.Silos())
        {
            var config = Load(m, deployment, silo);
            var gpus = silo.Resources.Limits.TryGetValue("nvidia.com/gpu", out var q) ? (int)q.ToDecimal() : 0;
            var spec = deployment.Spec.Template.Spec;
            if (overlay == "gpu" && config.Has("trainer"))
            {
                // A rank a pod, one GPU each, as many pods as the run may have ranks; they share the checkpoint folder.
                Assert.Equal("cuda", config.Device);
                Assert.Equal(1, gpus);
                Assert.Equal(config.Trainer.MaxRanks, deployment.Spec.Replicas);
                Assert.True(config.Trainer.MaxRanks > 1);
                Assert.Equal(config.Trainer.StorePort, silo.Ports.Single(p => p.Name == "ranks").ContainerPort);
                var checkpoints = spec.Volumes.Single(v => v.Name == silo.VolumeMounts.Single(v => config.Trainer.Prior!.OutDir.StartsWith(v.MountPath, StringComparison.Ordinal)).Name);
                Assert.Contains("ReadWriteMany", m.One<V1PersistentVolumeClaim>(checkpoints.PersistentVolumeClaim.ClaimName).Spec.AccessModes);
                Assert.Equal("localhost/ut-cuda:dev", silo.Image);
            }
            else if (overlay == "gpu" && config.Has("window"))
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
            o is V1Deployment d && d.Metadata.Name is not ("ut-window" or "ut-trainer") && d.Spec.Template.Spec.Containers.Any(c => c.Resources?.Limits?.ContainsKey("nvidia.com/gpu") == true));
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
