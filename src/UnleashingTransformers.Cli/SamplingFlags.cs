using System.CommandLine;
using UnleashingTransformers.Grid.Jobs;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;

namespace UnleashingTransformers.Cli;

/// <summary>
/// The flags that choose how tokens are revealed and drawn, shared by <c>ut sample</c>, <c>ut generate</c>,
/// <c>ut submit</c> and <c>ut inpaint</c>; their defaults are <see cref="CanvasJobSpec"/>'s (the one statement
/// of them), the schedule's the command's (a canvas's depends on its order; <c>ut sample</c>'s single windows take
/// the paper's). The temperature flag is each command's own (its default differs), parsed here.
/// </summary>
/// <param name="schedule">The schedule when --schedule is not given (null: the job's rule, <see cref="JobPresets.ScheduleOf"/>).</param>
internal sealed class SamplingFlags(string? schedule = null)
{
    private static readonly CanvasJobSpec Defaults = new();

    public readonly Option<string?> Schedule = new("--schedule")
    {
        DefaultValueFactory = _ => schedule,
        Description = "reciprocal (the paper's 1/t), confidence (MaskGIT), halton or tau-leaping (continuous-time leaps of 1/S, then a greedy step: S + 1 steps)" +
            (schedule is null ? "; default: halton, reciprocal in raster order" : ""),
    };
    public readonly Option<string> MaskSchedule = new("--mask-schedule")
    {
        DefaultValueFactory = _ => Defaults.MaskSchedule, Description = "tokens left masked after each step of confidence/halton: cosine, arccos or linear",
    };
    public readonly Option<double> ChoiceTemp = new("--choice-temp")
    {
        DefaultValueFactory = _ => Defaults.ChoiceTemperature, Description = "Gumbel temperature of the confidence schedule's choice, annealed to 0",
    };
    public readonly Option<string> Proportion = new("--proportion")
    {
        DefaultValueFactory = _ => Defaults.Proportion.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Description = "sundae priors: share of positions redrawn each step; START:END ramps linearly over the steps",
    };
    public readonly Option<int> MinSteps = new("--min-steps")
    {
        DefaultValueFactory = _ => Defaults.MinSteps, Description = "sundae priors: from this step (0-based) on, a sample whose step changed nothing stops",
    };
    public readonly Option<int> TopK = new("--top-k") { DefaultValueFactory = _ => Defaults.TopK, Description = "draw among the K most likely tokens (0: all)" };
    public readonly Option<double> TopP = new("--top-p") { DefaultValueFactory = _ => Defaults.TopP, Description = "draw among the most likely tokens holding this mass (1: all)" };

    /// <summary>A temperature flag: T, or START:END for a linear ramp over the steps.</summary>
    public static Option<string> Temperature(double defaultValue, string description) => new("--temp")
    {
        DefaultValueFactory = _ => defaultValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Description = $"{description}; START:END ramps linearly over the steps (e.g. 0.9:0.6)",
    };

    public void AddTo(Command c)
    {
        foreach (Option o in new Option[] { Schedule, MaskSchedule, ChoiceTemp, TopK, TopP, Proportion, MinSteps }) c.Options.Add(o);
    }

    public ScheduleChoice Choice(ParseResult r) =>
        ScheduleChoice.Parse(r.GetValue(Schedule)!, r.GetValue(MaskSchedule)!, r.GetValue(ChoiceTemp)) with { Refine = Refine(r) };

    /// <summary>SUNDAE's schedule from --proportion and --min-steps.</summary>
    public RefineSchedule Refine(ParseResult r)
    {
        var text = r.GetValue(Proportion)!;
        var parts = text.Split(':');
        var values = parts.Select(p => double.TryParse(p, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : double.NaN).ToArray();
        if (parts.Length > 2 || values.Any(double.IsNaN)) throw new ArgumentException($"--proportion {text}: expected a share P or a ramp START:END (e.g. 0.5 or 0.8:0.3)");
        return new RefineSchedule(values[0], values.Length == 2 ? values[1] : null, r.GetValue(MinSteps)).Checked();
    }

    public TokenSampling Sampling(ParseResult r, Option<string> temperature)
    {
        var (start, end) = TokenSampling.ParseTemperature(r.GetValue(temperature)!);
        return new TokenSampling(start, end, r.GetValue(TopK), r.GetValue(TopP)).Checked();
    }

    /// <summary>The spec's fields these flags set; the temperature and schedule, when not given, stay the spec's (a preset's).</summary>
    public CanvasJobSpec Apply(CanvasJobSpec spec, ParseResult r, Option<string> temperature)
    {
        var sampling = Sampling(r, temperature);
        var refine = Refine(r);
        var temperatureGiven = r.GetResult(temperature) is { Implicit: false };
        return spec with
        {
            Proportion = refine.Proportion,
            ProportionEnd = refine.ProportionEnd,
            MinSteps = refine.MinSteps,
            Temperature = temperatureGiven ? sampling.Temperature : spec.Temperature,
            TemperatureEnd = temperatureGiven ? sampling.TemperatureEnd : spec.TemperatureEnd,
            TopK = sampling.TopK,
            TopP = sampling.TopP,
            Schedule = r.GetResult(Schedule) is { Implicit: false } ? r.GetValue(Schedule) : spec.Schedule,
            MaskSchedule = r.GetValue(MaskSchedule)!,
            ChoiceTemperature = r.GetValue(ChoiceTemp),
        };
    }
}
