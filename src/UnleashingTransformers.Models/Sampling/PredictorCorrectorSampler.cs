using UnleashingTransformers.Models.Sampling.Schedules;

namespace UnleashingTransformers.Models.Sampling;

/// <summary>
/// Predictor-corrector tau-leaping (Campbell et al. 2022, section 4.2) on the absorbing chain: each predictor
/// leap (<see cref="TauLeapingSchedule"/>) from t to t - h is followed by <c>correctors</c> corrector leaps at
/// t - h, whose rates are the forward chain's plus the reverse chain's, a chain that leaves the marginal at
/// t - h unchanged and so pulls a sample that drifted back towards it. On the absorbing chain a corrector leap
/// of size h at time t re-masks each revealed token with probability 1 - exp(-h/(1-t)) (the forward rate: a
/// token is masked by time t with probability t) and reveals each masked position with 1 - exp(-h/t), drawn
/// from the model given the state before the leap. It is the principled form of SUNDAE's self-correction: a
/// token revealed early, when little was known, can be withdrawn and drawn again. One network pass a leap;
/// a final greedy step as the predictor's. Every draw keyed by (seed, sample, step, position).
/// </summary>
public sealed class PredictorCorrectorSampler(ITokenDenoiser denoiser, int leaps, int correctors, TokenSampling sampling)
{
    /// <summary>Network steps: S predictor leaps, each but the last followed by its correctors (after the last,
    /// t = 0), then the final step.</summary>
    public int Steps => leaps + correctors * (leaps - 1) + 1;

    public long[][] Sample(int count, ulong seed, int firstIndex = 0, Action<SamplingProgress>? progress = null, CancellationToken cancel = default)
    {
        if (leaps < 1 || correctors < 0 || count < 0) throw new SettingException(SettingNames.Steps, $"must be >= 1 and {SettingException.Ref(SettingNames.CorrectorSteps)} >= 0");
        var schedule = new TauLeapingSchedule(leaps);
        var L = denoiser.Length;
        var tokens = Enumerable.Range(0, count).Select(_ => Enumerable.Repeat((long)denoiser.MaskId, L).ToArray()).ToArray();
        var h = 1.0 / leaps;
        long rowsRun = 0, passes = 0;
        var step = 0;
        for (var k = 0; k <= leaps; k++)
        {
            // The predictor leap from t = 1 - k h (or the final greedy step), then its correctors at t - h.
            var t = schedule.TimeAt(k);
            Leap(step++, remask: 0, reveal: k == leaps ? 1 : TauLeapingSchedule.RevealProbability(t, h), greedy: k == leaps);
            for (var c = 0; c < correctors && k < leaps - 1; c++)
            {
                var tc = t - h;
                Leap(step++, remask: TauLeapingSchedule.RevealProbability(1 - tc, h), reveal: TauLeapingSchedule.RevealProbability(tc, h), greedy: false);
            }
        }
        return tokens;

        void Leap(int s, double remask, double reveal, bool greedy)
        {
            cancel.ThrowIfCancellationRequested();
            var wanted = new List<WantedPosition>();
            var remasked = new List<(int row, int pos)>();
            var rows = new List<int>();
            for (var i = 0; i < count; i++)
            {
                var stream = (ulong)(firstIndex + i);
                var before = wanted.Count;
                for (var pos = 0; pos < L; pos++)
                {
                    if (tokens[i][pos] == denoiser.MaskId)
                    {
                        if (CounterRng.Uniform(seed, stream, s, pos, CounterRng.Purpose.Reveal) < reveal) wanted.Add(new WantedPosition(rows.Count, pos));
                    }
                    else if (remask > 0 && CounterRng.Uniform(seed, stream, s, pos, CounterRng.Purpose.Remask) < remask)
                        remasked.Add((i, pos));
                }
                if (wanted.Count > before) rows.Add(i);
            }
            if (wanted.Count > 0)
            {
                // The model sees the state before the leap; its answers fill the positions that jump.
                var input = new long[rows.Count * L];
                for (var r = 0; r < rows.Count; r++) tokens[rows[r]].CopyTo(input, r * L);
                var probs = denoiser.Probabilities(input, rows.Count, wanted);
                var K = denoiser.CodebookSize;
                for (var w = 0; w < wanted.Count; w++)
                {
                    var (i, pos) = (rows[wanted[w].Row], wanted[w].Position);
                    var row = probs.AsSpan(w * K, K);
                    tokens[i][pos] = greedy
                        ? Categorical.Argmax(row)
                        : sampling.Draw(row, s, Steps, CounterRng.Uniform(seed, (ulong)(firstIndex + i), s, pos, CounterRng.Purpose.Token));
                }
                rowsRun += rows.Count;
                passes++;
            }
            foreach (var (i, pos) in remasked) tokens[i][pos] = denoiser.MaskId;
            var revealed = tokens.Sum(r => (long)r.Count(v => v != denoiser.MaskId));
            progress?.Invoke(new SamplingProgress(s + 1, Steps, revealed, (long)count * L, rowsRun, passes));
        }
    }
}
