namespace UnleashingTransformers.Grid.Contracts;

/// <summary>
/// Marks the grain methods that processes outside the cluster (Orleans clients such as <c>ut submit --cluster</c>)
/// may call: the job API. Everything else (window replicas, the trainer, the job index's bookkeeping, removing
/// jobs) is for silos only, and silos refuse it from clients.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class ClientCallableAttribute : Attribute;
