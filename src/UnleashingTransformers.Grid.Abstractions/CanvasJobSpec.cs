namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// What a user asks of a canvas job, as <c>ut generate</c>'s flags and the gateway's POST body say it.
/// Checked in one place (<c>JobSpecs.ToOptions</c>), which the CLI and the canvas job grain (for the gateway) run. The
/// defaults are the measured best for the cost (bench/README.md, "The second bundled model": shifted windows and
/// the Halton schedule in 32 steps came within 2.1x of real-vs-real SWD, the paper's reciprocal S = 256 over
/// overlapping windows at 5.3x, in a quarter of the time; "The third bundled model": temperature 0.8 with its
/// sharper decoder, 2.1x on 512x512-px canvases where 1.0 gives 3.2x); the paper's settings are the
/// <c>reference</c> preset (<c>JobPresets</c>).
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
    [Id(5)] public int Steps { get; init; } = 32;
    [Id(6)] public double Temperature { get; init; } = 0.8;
    [Id(7)] public ulong Seed { get; init; }
    [Id(8)] public string Aggregate { get; init; } = "mean";
    [Id(9)] public string Order { get; init; } = "parallel";
    /// <summary>Reveal schedule of the parallel order: reciprocal (the paper's 1/t), confidence (MaskGIT), halton or tau-leaping;
    /// unset: halton (in raster order, one token a step, reciprocal).</summary>
    [Id(10)] public string? Schedule { get; init; }
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
    /// (non-overlapping, the grid offset every step: one window per position and step); unset: shifted (in raster
    /// order, the reference's overlapping stride-1 windows).</summary>
    [Id(18)] public string? Tiling { get; init; }
    /// <summary>A SUNDAE prior's share of positions redrawn each step (the reference's sample_proportion).</summary>
    [Id(19)] public double Proportion { get; init; } = 0.5;
    /// <summary>When given, the share ramps linearly from <see cref="Proportion"/> to this over the steps.</summary>
    [Id(20)] public double? ProportionEnd { get; init; }
    /// <summary>A SUNDAE prior stops once a step changes nothing, from this step on (0-based; the reference's min_steps).</summary>
    [Id(21)] public int MinSteps { get; init; } = 10;
    /// <summary><c>interactive</c> (at most 64x64 tokens) or <c>batch</c>; unset: interactive up to that size, batch
    /// beyond (the rule: <c>JobPriorities</c>).</summary>
    [Id(22)] public string? Priority { get; init; }
    /// <summary>The model to generate with, by name (<c>GET /models</c>); unset: the grid's first. Not part of what
    /// an image records: that names the weights by version.</summary>
    [Id(23)] public string? Model { get; init; }
}
