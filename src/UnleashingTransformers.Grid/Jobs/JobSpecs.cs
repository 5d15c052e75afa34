using UnleashingTransformers.Grid.Canvas;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>Upper bounds on what one job may ask for (silo.json's Canvas:MaxTokens and Canvas:MaxSteps).</summary>
public sealed record JobLimits(long MaxTokens = long.MaxValue, int MaxSteps = int.MaxValue)
{
    public static readonly JobLimits None = new();
}

/// <summary>The one check of a job spec: <c>ut generate</c> and <c>inpaint</c> run it, and the canvas job grain on every
/// submission (the gateway's, <c>ut submit</c>'s).</summary>
public static class JobSpecs
{
    /// <summary>Checks the spec against the prior's grid and the limits; throws ArgumentException whose
    /// message names the field and the allowed values.</summary>
    public static CanvasOptions ToOptions(this CanvasJobSpec spec, int priorHeight, int priorWidth, JobLimits? limits = null)
    {
        limits ??= JobLimits.None;
        var (height, width) = (spec.Height, spec.Width);
        if (height < 1 || width < 1) throw new ArgumentException($"shape {height}x{width}: height and width must be >= 1");
        _ = JobPriorities.Of(spec);
        if ((long)height * width > limits.MaxTokens) throw new ArgumentException($"shape {height}x{width} has {(long)height * width} tokens, more than the limit of {limits.MaxTokens}");
        var order = spec.Order switch
        {
            "parallel" => RevealOrder.Parallel,
            "raster" => RevealOrder.Raster,
            _ => throw new ArgumentException($"order '{spec.Order}': expected parallel or raster"),
        };
        var aggregate = Aggregation.Parse(spec.Aggregate ?? "");
        var (wh, ww) = (spec.WindowHeight ?? priorHeight, spec.WindowWidth ?? priorWidth);
        if (wh < 1 || ww < 1) throw new ArgumentException($"window {wh}x{ww}: height and width must be >= 1");
        if (wh * ww != priorHeight * priorWidth) throw new ArgumentException($"window {wh}x{ww} does not hold the prior's {priorHeight * priorWidth} tokens");
        if (height < wh || width < ww) throw new ArgumentException($"shape {height}x{width} is smaller than the {wh}x{ww} window");
        if (spec.Steps < 1) throw new ArgumentException("steps must be >= 1");
        if (spec.Steps > limits.MaxSteps) throw new ArgumentException($"steps {spec.Steps} is more than the limit of {limits.MaxSteps}");
        var sampling = new TokenSampling(spec.Temperature, spec.TemperatureEnd, spec.TopK, spec.TopP).Checked();
        var refine = new RefineSchedule(spec.Proportion, spec.ProportionEnd, spec.MinSteps).Checked();
        var schedule = ScheduleChoice.Parse(JobPresets.ScheduleOf(spec), spec.MaskSchedule, spec.ChoiceTemperature) with { Refine = refine };
        if (order == RevealOrder.Raster && schedule.Kind != ScheduleKind.Reciprocal)
            throw new ArgumentException($"schedule {spec.Schedule} is for the parallel order; the raster order reveals one token a step in row-major order");
        var tiling = JobPresets.TilingOf(spec) switch
        {
            "overlap" => TilingKind.Overlap,
            "shifted" => TilingKind.Shifted,
            _ => throw new ArgumentException($"tiling '{spec.Tiling}': expected overlap or shifted"),
        };
        if (order == RevealOrder.Raster && tiling == TilingKind.Shifted)
            throw new ArgumentException("tiling shifted is for the parallel order; the raster order is the reference's stride-1 windows");
        if (spec.Region is not null) TokenRegion.Parse(spec.Region, height, width);
        if ((spec.Source is null) != (spec.Region is null)) throw new ArgumentException("an edit needs both a source job and a region");
        var stride = spec.Stride ?? (order == RevealOrder.Raster ? 1 : Math.Max(1, Math.Min(wh, ww) / 2));
        if (stride < 1) throw new ArgumentException("stride must be >= 1");
        // The raster order takes one step per token: bounded by the same step limit.
        if (order == RevealOrder.Raster && (long)height * width > limits.MaxSteps)
            throw new ArgumentException($"order raster takes {(long)height * width} steps, more than the limit of {limits.MaxSteps}");
        return new CanvasOptions(height, width, wh, ww, Math.Min(stride, wh), Math.Min(stride, ww), spec.Steps, sampling, spec.Seed, aggregate, order, schedule, tiling);
    }
}
