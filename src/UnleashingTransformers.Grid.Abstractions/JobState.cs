namespace UnleashingTransformers.Grid.Jobs;

/// <summary>Where a job stands. <see cref="Resuming"/>: its silo is not answering (failing over) or its state cannot be
/// saved right now (storage unreachable); it goes on from its last saved step, and clients keep following it.</summary>
public enum JobState { Queued, Running, Done, Failed, Cancelled, Resuming }
