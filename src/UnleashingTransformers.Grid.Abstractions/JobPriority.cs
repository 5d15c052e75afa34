namespace UnleashingTransformers.Grid.Jobs;

/// <summary>How a job's windows share the replicas with other jobs' (<see cref="Contracts.WindowFlow"/>), and which
/// pending-queue bound it counts against.</summary>
public enum JobPriority { Interactive, Batch }
