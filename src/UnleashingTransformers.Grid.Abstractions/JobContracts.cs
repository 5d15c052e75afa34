namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// What a user asks of a canvas job, as <c>ut generate</c>'s flags and the gateway's POST body say it.
/// Checked in one place (<c>JobSpecs.ToOptions</c>) by the CLI, the gateway and the canvas job grain.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record CanvasJobSpec
{
    [Id(0)] public int Height { get; init; } = 32;
    [Id(1)] public int Width { get; init; } = 64;
    /// <summary>Window in tokens (default: the prior's grid).</summary>
    [Id(2)] public int? WindowHeight { get; init; }
    [Id(3)] public int? WindowWidth { get; init; }
    /// <summary>Window stride in tokens (default: half a window; 1 in raster order).</summary>
    [Id(4)] public int? Stride { get; init; }
    [Id(5)] public int Steps { get; init; } = 256;
    [Id(6)] public double Temperature { get; init; } = 0.8;
    [Id(7)] public ulong Seed { get; init; }
    [Id(8)] public string Aggregate { get; init; } = "mean";
    [Id(9)] public string Order { get; init; } = "parallel";
    /// <summary>Reveal schedule of the parallel order: reciprocal (the paper's 1/t), confidence (MaskGIT), halton or tau-leaping.</summary>
    [Id(10)] public string Schedule { get; init; } = "reciprocal";
    /// <summary>Tokens still masked after each step of the confidence and halton schedules: cosine, arccos or linear.</summary>
    [Id(11)] public string MaskSchedule { get; init; } = "cosine";
    /// <summary>Temperature of the Gumbel noise on the confidence schedule's choice (MaskGIT's 4.5), annealed to 0.</summary>
    [Id(12)] public double ChoiceTemperature { get; init; } = 4.5;
    /// <summary>Draw among the K most likely tokens only (0: all).</summary>
    [Id(13)] public int TopK { get; init; }
    /// <summary>Draw among the most likely tokens holding this much of the mass (1: all).</summary>
    [Id(14)] public double TopP { get; init; } = 1.0;
    /// <summary>When given, the temperature ramps linearly from <see cref="Temperature"/> to this over the steps.</summary>
    [Id(15)] public double? TemperatureEnd { get; init; }
    /// <summary>An edit: the finished job whose tokens this one starts from (same shape), with <see cref="Region"/> re-masked.</summary>
    [Id(16)] public string? Source { get; init; }
    /// <summary>An edit's token rectangle to regenerate, <c>R0:R1,C0:C1</c> (half-open rows and columns).</summary>
    [Id(17)] public string? Region { get; init; }
    /// <summary>Windows of the parallel order: overlap (a fixed stride, distributions aggregated) or shifted
    /// (non-overlapping, the grid offset every step: one window per position and step).</summary>
    [Id(18)] public string Tiling { get; init; } = "overlap";
    /// <summary>A SUNDAE prior's share of positions redrawn each step (the reference's sample_proportion).</summary>
    [Id(19)] public double Proportion { get; init; } = 0.5;
    /// <summary>When given, the share ramps linearly from <see cref="Proportion"/> to this over the steps.</summary>
    [Id(20)] public double? ProportionEnd { get; init; }
    /// <summary>A SUNDAE prior stops once a step changes nothing, from this step on (0-based; the reference's min_steps).</summary>
    [Id(21)] public int MinSteps { get; init; } = 10;
    /// <summary><c>interactive</c> (at most 64x64 tokens) or <c>batch</c>; unset: interactive up to that size, batch
    /// beyond (the rule: <c>JobPriorities</c>).</summary>
    [Id(22)] public string? Priority { get; init; }
}

/// <summary>How a job's windows share the replicas with other jobs' (<see cref="Contracts.WindowFlow"/>), and which
/// pending-queue bound it counts against.</summary>
public enum JobPriority { Interactive, Batch }

/// <summary>Where a job stands. <see cref="Resuming"/>: its silo is not answering (failing over) or its state cannot be
/// saved right now (storage unreachable); it goes on from its last saved step, and clients keep following it.</summary>
public enum JobState { Queued, Running, Done, Failed, Cancelled, Resuming }

/// <summary>What the gateway and <c>ut submit</c> report of a job.</summary>
[GenerateSerializer, Immutable]
public sealed record JobStatus(
    [property: Id(0)] string Id,
    [property: Id(1)] JobState State,
    [property: Id(2)] int Step,
    [property: Id(3)] int Steps,
    [property: Id(4)] long Revealed,
    [property: Id(5)] long Total,
    [property: Id(6)] string? Error,
    [property: Id(7)] DateTimeOffset Updated)
{
    public bool Finished => State is JobState.Done or JobState.Failed or JobState.Cancelled;
}

/// <summary>A finished job's canvas: what an edit of it starts from.</summary>
[GenerateSerializer, Immutable]
public sealed record FinishedCanvas(
    [property: Id(0)] CanvasJobSpec Spec,
    [property: Id(1)] string Model,
    [property: Id(2)] long[] Tokens);

/// <summary>A page of jobs, newest first, and how many there are in all.</summary>
[GenerateSerializer, Immutable]
public sealed record JobPage([property: Id(0)] string[] Ids, [property: Id(1)] int Total);

/// <summary>Why a job was not admitted, when it was not.</summary>
public enum Admission { Accepted, QueueFull }

/// <summary>One of a job's outputs as readers see it: its length in bytes, a version tag (an HTTP entity tag,
/// quoted) that changes whenever its bytes do, and its media type.</summary>
[GenerateSerializer, Immutable]
public sealed record OutputInfo(
    [property: Id(0)] long Length,
    [property: Id(1)] string ETag,
    [property: Id(2)] string ContentType)
{
    /// <summary>The most bytes one read of an output returns: far below Orleans' message size limit, so an
    /// output of any size crosses the cluster.</summary>
    public const int MaxChunk = 256 << 10;
}
