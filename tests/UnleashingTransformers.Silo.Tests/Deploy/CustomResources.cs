using k8s;
using k8s.Models;

namespace UnleashingTransformers.Silo.Tests.Deploy;

/// <summary>
/// The two operators' resources the manifests use, with the fields of their published schemas that we
/// write (KEDA's ScaledObject, keda.sh/v1alpha1; Prometheus Operator's PodMonitor, monitoring.coreos.com/v1),
/// so strict loading rejects a misspelled field there too.
/// </summary>
public static class CustomResources
{
    public static readonly Dictionary<string, Type> TypeMap = new()
    {
        ["keda.sh/v1alpha1/ScaledObject"] = typeof(ScaledObject),
        ["monitoring.coreos.com/v1/PodMonitor"] = typeof(PodMonitor),
    };

    public abstract class Resource : IKubernetesObject<V1ObjectMeta>
    {
        public string ApiVersion { get; set; } = "";
        public string Kind { get; set; } = "";
        public V1ObjectMeta Metadata { get; set; } = new();
    }

    public sealed class ScaledObject : Resource
    {
        public ScaledObjectSpec Spec { get; set; } = new();
    }

    public sealed class ScaledObjectSpec
    {
        public ScaleTarget ScaleTargetRef { get; set; } = new();
        public int? MinReplicaCount { get; set; }
        public int? MaxReplicaCount { get; set; }
        public int? CooldownPeriod { get; set; }
        public int? PollingInterval { get; set; }
        public List<ScaleTrigger> Triggers { get; set; } = [];
    }

    public sealed class ScaleTarget
    {
        public string? ApiVersion { get; set; }
        public string? Kind { get; set; }
        public string Name { get; set; } = "";
    }

    public sealed class ScaleTrigger
    {
        public string Type { get; set; } = "";
        public Dictionary<string, string> Metadata { get; set; } = [];
    }

    public sealed class PodMonitor : Resource
    {
        public PodMonitorSpec Spec { get; set; } = new();
    }

    public sealed class PodMonitorSpec
    {
        public V1LabelSelector Selector { get; set; } = new();
        public List<PodMetricsEndpoint> PodMetricsEndpoints { get; set; } = [];
    }

    public sealed class PodMetricsEndpoint
    {
        public string? Port { get; set; }
        public string? Path { get; set; }
        public string? Interval { get; set; }
        public SafeAuthorization? Authorization { get; set; }
    }

    public sealed class SafeAuthorization
    {
        public string? Type { get; set; }
        public V1SecretKeySelector? Credentials { get; set; }
    }
}
