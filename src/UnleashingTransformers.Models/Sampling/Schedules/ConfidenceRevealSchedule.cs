namespace UnleashingTransformers.Models.Sampling.Schedules;

/// <summary>
/// MaskGIT's schedule: every masked position is a candidate; of the tokens drawn there, the step keeps the
/// <see cref="MaskRatio.RevealCount"/> most confident ones, confidence being log p(drawn token) plus Gumbel
/// noise whose temperature anneals as choice_temp · (1 − (k+1)/S). The noise is keyed by (seed, stream, step,
/// position), ties go to the lower position: the choice does not depend on batching or sharding.
/// </summary>
public sealed class ConfidenceRevealSchedule : IRevealSchedule
{
    private readonly MaskScheduleKind _mask;
    private readonly double _choiceTemperature;

    public ConfidenceRevealSchedule(int steps, MaskScheduleKind mask, double choiceTemperature)
    {
        if (steps < 1) throw new SettingException(SettingNames.Steps, "must be >= 1");
        if (!(choiceTemperature >= 0) || double.IsInfinity(choiceTemperature)) throw new SettingException(SettingNames.ChoiceTemperature, "must be >= 0");
        (Steps, _mask, _choiceTemperature) = (steps, mask, choiceTemperature);
    }

    public int Steps { get; }

    public void Candidates(int step, MaskedPositions masked, ulong seed, ulong stream, List<int> into)
    {
        into.Clear();
        foreach (var pos in masked.Positions) into.Add(pos);
    }

    public void Select(int step, int maskedBefore, IReadOnlyList<int> candidates, ReadOnlySpan<double> confidences, ulong seed, ulong stream, List<int> keep)
    {
        keep.Clear();
        var n = Math.Min(MaskRatio.RevealCount(_mask, step, Steps, maskedBefore), candidates.Count);
        if (n == candidates.Count)
        {
            for (var i = 0; i < n; i++) keep.Add(i);
            return;
        }
        var noise = _choiceTemperature * (1 - (step + 1.0) / Steps);
        var scores = new double[candidates.Count];
        for (var i = 0; i < scores.Length; i++)
        {
            var u = CounterRng.Uniform(seed, stream, step, candidates[i], CounterRng.Purpose.Choice);
            var gumbel = -Math.Log(-Math.Log(Math.Max(u, 1e-300)));
            scores[i] = Math.Log(Math.Max(confidences[i], 1e-30)) + noise * gumbel;
        }
        var order = Enumerable.Range(0, scores.Length).ToArray();
        Array.Sort(order, (a, b) => scores[a] != scores[b] ? scores[b].CompareTo(scores[a]) : candidates[a].CompareTo(candidates[b]));
        keep.AddRange(order.Take(n).Order());
    }
}
