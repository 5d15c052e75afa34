namespace UnleashingTransformers.Models.Sampling;

/// <summary>The probability row of the <paramref name="candidate"/>-th candidate of a step.</summary>
public delegate ReadOnlySpan<float> ProbabilityRow(int candidate);

/// <summary>
/// One reveal step, the one both <see cref="AbsorbingSampler"/> and the canvas take: the schedule names the
/// candidates; the caller gets their distributions (from the network, or aggregated from windows); a token is
/// drawn at each, keyed by (seed, stream, step, position); the schedule keeps some of the draws; those are
/// written and leave the mask. Because it is one type, a one-window canvas is the plain sampler by construction.
/// The algorithms as implemented: docs/sampling.md.
/// </summary>
public sealed class RevealStep(IRevealSchedule schedule, TokenSampling sampling)
{
    public IRevealSchedule Schedule => schedule;
    public TokenSampling Sampling => sampling;
    public int Steps => schedule.Steps;

    public void Candidates(int step, MaskedPositions masked, ulong seed, ulong stream, List<int> into) =>
        schedule.Candidates(step, masked, seed, stream, into);

    /// <summary>Draws at every candidate (row i = candidates[i]), writes the draws the schedule keeps into
    /// <paramref name="tokens"/> and removes them from <paramref name="masked"/>; returns how many it revealed.</summary>
    public int Reveal(int step, IReadOnlyList<int> candidates, ProbabilityRow rows, ulong seed, ulong stream, Span<long> tokens, MaskedPositions masked)
    {
        if (candidates.Count == 0) return 0;
        var drawn = new long[candidates.Count];
        var confidences = new double[candidates.Count];
        for (var i = 0; i < candidates.Count; i++)
        {
            var row = rows(i);
            var u = CounterRng.Uniform(seed, stream, step, candidates[i], CounterRng.Purpose.Token);
            var token = sampling.Draw(row, step, schedule.Steps, u);
            (drawn[i], confidences[i]) = (token, row[token]);
        }
        var keep = new List<int>(candidates.Count);
        schedule.Select(step, masked.Count, candidates, confidences, seed, stream, keep);
        foreach (var i in keep)
        {
            tokens[candidates[i]] = drawn[i];
            masked.Remove(candidates[i]);
        }
        return keep.Count;
    }
}
