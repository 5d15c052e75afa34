namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// Named sets of job settings: <c>best</c>, the defaults (<see cref="CanvasJobSpec"/>'s: measured best for the cost),
/// and <c>reference</c>, the paper's (its big-sample settings: 256 steps of the 1/t schedule at temperature 0.8
/// over overlapping windows, distributions averaged). A preset fills what a job does not set itself.
/// </summary>
public static class JobPresets
{
    public static readonly CanvasJobSpec Best = new();

    public static readonly CanvasJobSpec Reference = new() { Steps = 256, Temperature = 0.8, Schedule = "reciprocal", Tiling = "overlap", Aggregate = "mean" };

    public static readonly string[] Names = ["best", "reference"];

    public static CanvasJobSpec Of(string name) => name switch
    {
        "best" => Best,
        "reference" => Reference,
        _ => throw new ArgumentException($"preset '{name}': expected {string.Join(" or ", Names)}"),
    };

    /// <summary>The schedule a job reveals by: its own, else halton (parallel order) or the 1/t law (raster order).</summary>
    public static string ScheduleOf(CanvasJobSpec spec) => spec.Schedule ?? (spec.Order == "raster" ? "reciprocal" : "halton");

    /// <summary>The windows a job uses: its own, else shifted (parallel order) or the reference's overlapping ones (raster order).</summary>
    public static string TilingOf(CanvasJobSpec spec) => spec.Tiling ?? (spec.Order == "raster" ? "overlap" : "shifted");

    /// <summary>The spec with every default it leaves to the order filled in (what the gateway shows as its defaults).</summary>
    public static CanvasJobSpec Resolved(CanvasJobSpec spec) => spec with { Schedule = ScheduleOf(spec), Tiling = TilingOf(spec) };
}
