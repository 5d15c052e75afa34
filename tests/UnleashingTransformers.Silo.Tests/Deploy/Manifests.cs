using System.Diagnostics;
using System.Security.Cryptography;
using k8s;
using k8s.Models;

namespace UnleashingTransformers.Silo.Tests.Deploy;

/// <summary>
/// The repository's Kubernetes manifests as a cluster would get them: an overlay of deploy/k8s rendered by
/// <c>kubectl kustomize</c> (from a copy, with a tokens.env and redis.env of fresh random tokens and a
/// certificate set from <c>ut certs</c>, as the kustomization tells users to make them), then loaded strictly into KubernetesClient's typed models (a misspelled or mistyped field
/// anywhere fails), the operators' custom resources into <see cref="CustomResources"/>.
/// </summary>
public sealed class Manifests
{
    public static readonly string Repo = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));

    public string Yaml { get; }
    public IReadOnlyList<object> Objects { get; }
    public IReadOnlyDictionary<string, string> Tokens { get; }

    private Manifests(string yaml, IReadOnlyDictionary<string, string> tokens)
    {
        Yaml = yaml;
        Tokens = tokens;
        Objects = KubernetesYaml.LoadAllFromString(yaml, CustomResources.TypeMap, strict: true);
    }

    /// <summary>Renders <c>deploy/k8s/overlays/{overlay}</c>.</summary>
    public static Manifests Render(string overlay, string scratch)
    {
        var tree = Path.Combine(scratch, "k8s");
        CopyTree(Path.Combine(Repo, "deploy", "k8s"), tree);
        var tokens = new Dictionary<string, string> { ["gateway"] = RandomToken(), ["ops"] = RandomToken(), ["redis"] = RandomToken() };
        File.WriteAllLines(Path.Combine(tree, "base", "tokens.env"), tokens.Where(t => t.Key != "redis").Select(t => $"{t.Key}={t.Value}"));
        // The redis password and the cluster's certificates, made as the kustomization's comments tell users to.
        File.WriteAllText(Path.Combine(tree, "base", "redis.env"), $"password={tokens["redis"]}\n");
        var tls = Path.Combine(tree, "base", "tls");
        Testing.Ut.Ok("certs", "--out", tls);
        foreach (var (from, to) in new[] { ("ca.pem", "ca.crt"), ("silo.pem", "tls.crt"), ("silo.key", "tls.key") }) File.Move(Path.Combine(tls, from), Path.Combine(tls, to));
        var psi = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "kustomize", Path.Combine(tree, "overlays", overlay) }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"kubectl kustomize overlays/{overlay} failed: {stderr}");
        return new Manifests(stdout.Result, tokens);
    }

    /// <summary>Why the manifests cannot be rendered here, or null when they can.</summary>
    public static string? CannotRender()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("kubectl", "version --client") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            p.WaitForExit();
            return p.ExitCode == 0 ? null : "kubectl version --client failed";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "kubectl is not on PATH (kubectl >= 1.27, for kustomize v5): the manifests cannot be rendered";
        }
    }

    public IEnumerable<T> All<T>() => Objects.OfType<T>();
    public T One<T>(string name) where T : IKubernetesObject<V1ObjectMeta> => All<T>().Single(o => o.Metadata.Name == name);

    /// <summary>The silo Deployments (labelled ut/silo) and their "silo" container.</summary>
    public IEnumerable<(V1Deployment deployment, V1Container silo)> Silos() =>
        All<V1Deployment>().Where(d => d.Metadata.Labels?.ContainsKey("ut/silo") == true)
            .Select(d => (d, d.Spec.Template.Spec.Containers.Single(c => c.Name == "silo")));

    /// <summary>The silo.json a container is started with (<c>--config /etc/ut/X.json</c>), from the ConfigMap mounted there.</summary>
    public string SiloJson(V1Deployment deployment, V1Container silo)
    {
        var configPath = silo.Args[silo.Args.IndexOf("--config") + 1];
        var mount = silo.VolumeMounts.Single(m => configPath.StartsWith(m.MountPath + "/", StringComparison.Ordinal));
        var volume = deployment.Spec.Template.Spec.Volumes.Single(v => v.Name == mount.Name);
        var map = One<V1ConfigMap>(volume.ConfigMap.Name);
        return map.Data[configPath[(mount.MountPath.Length + 1)..]];
    }

    /// <summary>The environment the silo container starts with, as the kubelet would resolve it (field references
    /// from a pod named after its Deployment).</summary>
    public IEnumerable<(string name, string value)> Environment(V1Deployment deployment, V1Container silo)
    {
        foreach (var from in silo.EnvFrom ?? [])
            foreach (var (name, value) in One<V1ConfigMap>(from.ConfigMapRef.Name).Data)
                yield return (name, value);
        foreach (var e in silo.Env ?? [])
        {
            if (e.ValueFrom?.SecretKeyRef is { } secret)
                yield return (e.Name, System.Text.Encoding.UTF8.GetString(One<V1Secret>(secret.Name).Data[secret.Key]));
            else if (e.ValueFrom?.FieldRef?.FieldPath == "metadata.name")
                yield return (e.Name, $"{deployment.Metadata.Name}-pod");
            else if (e.Value is not null)
                yield return (e.Name, e.Value);
        }
    }

    private static string RandomToken() => Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();

    private static void CopyTree(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(dir.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            if (Path.GetFileName(file) is not ("tokens.env" or "redis.env") && !file.Contains($"{Path.DirectorySeparatorChar}tls{Path.DirectorySeparatorChar}"))
                File.Copy(file, file.Replace(from, to));
    }
}
