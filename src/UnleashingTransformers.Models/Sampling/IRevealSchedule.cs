namespace UnleashingTransformers.Models.Sampling;

/// <summary>
/// Which masked positions a sampler reveals at each of its steps: the plug-in point for sampling
/// schedules (the reference's 1/t law, raster order; confidence-ordered schedules such as MaskGIT's
/// choose among candidates after seeing their distributions).
/// </summary>
public interface IRevealSchedule
{
    /// <summary>Number of steps (network passes at most) to reveal every position.</summary>
    int Steps { get; }

    /// <summary>
    /// The positions whose distributions are needed at <paramref name="step"/> (0-based), among the
    /// still-masked <paramref name="masked"/> positions of one sequence. Randomness comes from
    /// <see cref="CounterRng"/> keyed by (seed, stream, step, position).
    /// </summary>
    void Candidates(int step, IReadOnlyList<int> masked, ulong seed, ulong stream, List<int> into);

    /// <summary>Of the candidates (in order), which to reveal given the probability each one's
    /// sampled token had. Schedules that reveal every candidate return them all.</summary>
    IReadOnlyList<int> Select(int step, IReadOnlyList<int> candidates, IReadOnlyList<double> confidences) => candidates;
}

/// <summary>
/// The reference's schedule (AbsorbingDiffusion.sample): at step k, with t = S − k, each still-masked
/// position is revealed with probability 1/t, so t = 1 reveals the rest. About L/S tokens a step.
/// </summary>
public sealed class ReciprocalRevealSchedule : IRevealSchedule
{
    public ReciprocalRevealSchedule(int steps)
    {
        if (steps < 1) throw new ArgumentException("--steps must be >= 1");
        Steps = steps;
    }

    public int Steps { get; }

    public void Candidates(int step, IReadOnlyList<int> masked, ulong seed, ulong stream, List<int> into)
    {
        into.Clear();
        var t = Steps - step;
        if (t <= 1)
        {
            into.AddRange(masked);
            return;
        }
        var p = 1.0 / t;
        foreach (var pos in masked)
            if (CounterRng.Uniform(seed, stream, step, pos, CounterRng.Purpose.Reveal) < p) into.Add(pos);
    }
}

/// <summary>One position per step in raster (row-major) order: the reference's big-sample order.</summary>
public sealed class RasterRevealSchedule(int length) : IRevealSchedule
{
    public int Steps => length;

    public void Candidates(int step, IReadOnlyList<int> masked, ulong seed, ulong stream, List<int> into)
    {
        into.Clear();
        if (masked.Count > 0) into.Add(masked.Min());
    }
}
