namespace UnleashingTransformers.Models.Sampling.Schedules;

/// <summary>
/// Tau-leaping (Campbell et al. 2022, "A Continuous Time Framework for Discrete Denoising Models") on the
/// absorbing chain. In continuous time t in (0, 1], a position is masked with probability t (the paper's
/// t/T), so the reverse chain takes a masked position to token v at rate (1/t) p(x0 = v | x_t). A leap of
/// size h from t holds those rates fixed: a masked position jumps at least once with probability
/// 1 - exp(-h/t), and since every jump leaves the mask state the first one is the jump taken, to a token
/// drawn from the model's distribution. S leaps of h = 1/S from t = 1 (so h/t = 1/(S - k) at leap k:
/// the reciprocal schedule's 1/t, exponentiated), then one final step that gives every position still
/// masked its most likely token: S + 1 steps. The paper's sampler is the exact chain of the same rates;
/// tau-leaping is what the continuous-time samplers run, and what <see cref="PredictorCorrectorSampler"/>
/// adds corrector leaps to.
/// </summary>
public sealed class TauLeapingSchedule : IRevealSchedule
{
    public TauLeapingSchedule(int leaps)
    {
        if (leaps < 1) throw new SettingException(SettingNames.Steps, "must be >= 1");
        Leaps = leaps;
    }

    /// <summary>Leaps S before the final step.</summary>
    public int Leaps { get; }

    public int Steps => Leaps + 1;

    /// <summary>Time at the start of leap <paramref name="leap"/>: 1 - leap/S.</summary>
    public double TimeAt(int leap) => 1.0 - (double)leap / Leaps;

    /// <summary>Probability that a masked position jumps in a leap of <paramref name="h"/> from time <paramref name="t"/>.</summary>
    public static double RevealProbability(double t, double h) => 1 - Math.Exp(-h / t);

    public void Candidates(int step, MaskedPositions masked, ulong seed, ulong stream, List<int> into)
    {
        into.Clear();
        if (step >= Leaps)
        {
            foreach (var pos in masked.Positions) into.Add(pos);
            return;
        }
        var p = RevealProbability(TimeAt(step), 1.0 / Leaps);
        foreach (var pos in masked.Positions)
            if (CounterRng.Uniform(seed, stream, step, pos, CounterRng.Purpose.Reveal) < p) into.Add(pos);
    }

    public bool Greedy(int step) => step >= Leaps;
}
