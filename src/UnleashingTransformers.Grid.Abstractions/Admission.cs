namespace UnleashingTransformers.Grid.Jobs;

/// <summary>Why a job was not admitted, when it was not.</summary>
public enum Admission { Accepted, QueueFull }
