namespace UnleashingTransformers.Models.Sampling.Schedules;

/// <summary>
/// The paper's schedule (AbsorbingDiffusion.sample): at step k, with t = S − k, each still-masked
/// position is revealed with probability 1/t, so t = 1 reveals the rest. About L/S tokens a step.
/// </summary>
public sealed class ReciprocalRevealSchedule : IRevealSchedule
{
    public ReciprocalRevealSchedule(int steps)
    {
        if (steps < 1) throw new SettingException(SettingNames.Steps, "must be >= 1");
        Steps = steps;
    }

    public int Steps { get; }

    public void Candidates(int step, MaskedPositions masked, ulong seed, ulong stream, List<int> into)
    {
        into.Clear();
        var t = Steps - step;
        if (t <= 1)
        {
            foreach (var pos in masked.Positions) into.Add(pos);
            return;
        }
        var p = 1.0 / t;
        foreach (var pos in masked.Positions)
            if (CounterRng.Uniform(seed, stream, step, pos, CounterRng.Purpose.Reveal) < p) into.Add(pos);
    }
}
