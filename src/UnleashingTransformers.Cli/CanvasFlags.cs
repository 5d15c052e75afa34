using System.CommandLine;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Cli;

/// <summary>
/// The flags that describe a canvas job, shared by <c>ut generate</c> and <c>ut submit</c>; their defaults
/// are <see cref="CanvasJobSpec"/>'s (the one statement of them the gateway and the grains use too), or a
/// <see cref="JobPresets"/> preset's (<c>--preset reference</c>: the paper's) for the flags not given.
/// </summary>
internal sealed class CanvasFlags(bool withShape = true)
{
    private static readonly CanvasJobSpec Defaults = new();

    public readonly Option<string> Shape = new("--shape") { Description = "canvas in tokens, HxW", DefaultValueFactory = _ => $"{Defaults.Height}x{Defaults.Width}" };
    public readonly Option<string?> Window = new("--window") { Description = "window in tokens, N or HxW (default: the prior's grid)" };
    public readonly Option<int?> Stride = new("--stride") { Description = "window stride in tokens (default: half a window; 1 in raster order)" };
    public readonly Option<int> Steps = new("--steps") { DefaultValueFactory = _ => Defaults.Steps, Description = "steps of the parallel order" };
    public readonly Option<string> Temp = SamplingFlags.Temperature(Defaults.Temperature, "temperature (0.8, as the reference's big samples)");
    public readonly Option<ulong> Seed = new("--seed") { DefaultValueFactory = _ => Defaults.Seed };
    public readonly Option<string> Aggregate = new("--aggregate") { DefaultValueFactory = _ => Defaults.Aggregate, Description = "mean (reference), gaussian or poe" };
    public readonly SamplingFlags Sampling = new();
    public readonly Option<string?> Tiling = new("--tiling")
    {
        Description = "overlap (windows at --stride, aggregated) or shifted (non-overlapping, offset every step: one pass per position); default: shifted, overlap in raster order",
    };
    public readonly Option<string> Preset = new("--preset")
    {
        DefaultValueFactory = _ => "best",
        Description = "best (the defaults: shifted windows, Halton in 32 steps, temperature 0.8, measured best for the cost) or reference (the paper's: 256 steps of 1/t at temperature 0.8 over " +
            "overlapping windows, averaged); flags given override it",
    };
    public readonly Option<string> Order = new("--order")
    {
        DefaultValueFactory = _ => Defaults.Order, Description = "parallel (1/t law, many tokens a step) or raster (reference: one a step)",
    };

    public void AddTo(Command c)
    {
        if (withShape) c.Options.Add(Shape);
        foreach (Option o in new Option[] { Window, Stride, Steps, Temp, Seed, Aggregate, Order, Tiling, Preset }) c.Options.Add(o);
        Sampling.AddTo(c);
    }

    /// <summary>The first of these flags the user gave (not defaulted), if any.</summary>
    public string? Given(ParseResult r) =>
        new Option[] { Shape, Window, Stride, Steps, Temp, Seed, Aggregate, Order, Tiling, Preset, Sampling.Schedule, Sampling.MaskSchedule, Sampling.ChoiceTemp, Sampling.TopK, Sampling.TopP }
            .FirstOrDefault(o => r.GetResult(o) is { Implicit: false })?.Name;

    /// <summary>The job the flags describe (checked against the prior by <c>JobSpecs.ToOptions</c>); the shape is
    /// <paramref name="shape"/> when the command takes it from its input instead of <c>--shape</c>.</summary>
    public CanvasJobSpec Spec(ParseResult r, (int h, int w)? shape = null)
    {
        var (h, w) = shape ?? GridShape.Parse(r.GetValue(Shape)!, "--shape");
        int? wh = null, ww = null;
        if (r.GetValue(Window) is { } win)
            (wh, ww) = win.Contains('x') ? GridShape.Parse(win, "--window") : GridShape.Parse($"{win}x{win}", "--window");
        var preset = JobPresets.Of(r.GetValue(Preset)!);
        T Or<T>(Option<T> option, T fallback) => r.GetResult(option) is { Implicit: false } ? r.GetValue(option)! : fallback;
        var spec = preset with
        {
            Height = h,
            Width = w,
            WindowHeight = wh,
            WindowWidth = ww,
            Stride = r.GetValue(Stride),
            Steps = Or(Steps, preset.Steps),
            Seed = r.GetValue(Seed),
            Aggregate = Or(Aggregate, preset.Aggregate),
            Order = r.GetValue(Order)!,
            Tiling = Or(Tiling, preset.Tiling),
        };
        return Sampling.Apply(spec, r, Temp);
    }
}
