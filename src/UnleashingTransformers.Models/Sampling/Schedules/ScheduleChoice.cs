namespace UnleashingTransformers.Models.Sampling.Schedules;

/// <summary>The reveal schedules a user can choose (<c>--schedule</c>).</summary>
public enum ScheduleKind
{
    /// <summary>The paper's: each masked position revealed with probability 1/t.</summary>
    Reciprocal,
    /// <summary>MaskGIT's: the most confident draws, as many as the mask schedule says.</summary>
    Confidence,
    /// <summary>Positions in 2-D Halton order, as many as the mask schedule says.</summary>
    Halton,
    /// <summary>Tau-leaping on the continuous-time absorbing chain, then a greedy final step.</summary>
    TauLeaping,
}

/// <summary>A chosen schedule and its settings, checked; makes the schedule for a grid of a given size, and the step
/// for a prior's corruption: the reveal schedule for an absorbing prior, <see cref="Refine"/> for a SUNDAE one.</summary>
public sealed record ScheduleChoice(ScheduleKind Kind, MaskScheduleKind MaskSchedule, double ChoiceTemperature)
{
    /// <summary>A refining (SUNDAE) prior's schedule; the reveal settings play no part there.</summary>
    public RefineSchedule Refine { get; init; } = new();

    /// <summary>The paper's 1/t schedule (the mask schedule and choice temperature play no part in it).</summary>
    public static readonly ScheduleChoice Reciprocal = new(ScheduleKind.Reciprocal, MaskScheduleKind.Cosine, 0);

    /// <summary>From the flags' text; throws ArgumentException naming the flag and the allowed values.</summary>
    public static ScheduleChoice Parse(string schedule, string maskSchedule, double choiceTemperature)
    {
        var kind = (schedule ?? "").ToLowerInvariant() switch
        {
            "reciprocal" => ScheduleKind.Reciprocal,
            "confidence" => ScheduleKind.Confidence,
            "halton" => ScheduleKind.Halton,
            "tau-leaping" => ScheduleKind.TauLeaping,
            _ => throw new ArgumentException($"schedule '{schedule}': expected reciprocal, confidence, halton or tau-leaping"),
        };
        if (!(choiceTemperature >= 0) || double.IsInfinity(choiceTemperature)) throw new SettingException(SettingNames.ChoiceTemperature, "must be >= 0");
        return new ScheduleChoice(kind, MaskRatio.Parse(maskSchedule ?? ""), choiceTemperature);
    }

    /// <summary>The schedule over <paramref name="steps"/> steps for a <paramref name="height"/> x <paramref name="width"/> grid.</summary>
    public IRevealSchedule Create(int steps, int height, int width) => Kind switch
    {
        ScheduleKind.Confidence => new ConfidenceRevealSchedule(steps, MaskSchedule, ChoiceTemperature),
        ScheduleKind.Halton => new HaltonRevealSchedule(steps, height, width, MaskSchedule),
        ScheduleKind.TauLeaping => new TauLeapingSchedule(steps),
        _ => new ReciprocalRevealSchedule(steps),
    };

    /// <summary>The step a sampler or canvas takes with a prior of <paramref name="corruption"/>: the one place that knows both kinds.</summary>
    public ITokenStep Step(Corruption corruption, TokenSampling sampling, int steps, int height, int width) => corruption switch
    {
        Corruption.Uniform => new RefineStep(Refine.Checked(), sampling.Checked(), steps >= 1 ? steps : throw new SettingException(SettingNames.Steps, "must be >= 1")),
        _ => new RevealStep(Create(steps, height, width), sampling.Checked()),
    };
}
