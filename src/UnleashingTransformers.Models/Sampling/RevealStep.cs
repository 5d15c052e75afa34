using UnleashingTransformers.Models.Sampling.Schedules;

namespace UnleashingTransformers.Models.Sampling;

/// <summary>The probability row of the <paramref name="candidate"/>-th candidate of a step.</summary>
public delegate ReadOnlySpan<float> ProbabilityRow(int candidate);

/// <summary>
/// The absorbing prior's step, the one both <see cref="TokenSampler"/> and the canvas take: the schedule names the
/// candidates; the caller gets their distributions (from the network, or aggregated from windows); a token is
/// drawn at each, keyed by (seed, stream, step, position); the schedule keeps some of the draws; those are
/// written and leave the mask. Because it is one type, a one-window canvas is the plain sampler by construction.
/// The algorithms as implemented: docs/sampling.md.
/// </summary>
public sealed class RevealStep(IRevealSchedule schedule, TokenSampling sampling) : ITokenStep
{
    public IRevealSchedule Schedule => schedule;
    public TokenSampling Sampling => sampling;
    public int Steps => schedule.Steps;
    public bool Refines => false;

    /// <summary>Nothing to do: the unknown positions start masked.</summary>
    public void Begin(Span<long> tokens, MaskedPositions unknown, int codebookSize, ulong seed, ulong stream) { }

    /// <summary>Done once nothing is masked.</summary>
    public bool Finished(int step, MaskedPositions unknown, int kept) => unknown.Count == 0;

    public void Candidates(int step, MaskedPositions unknown, ulong seed, ulong stream, List<int> into) =>
        schedule.Candidates(step, unknown, seed, stream, into);

    /// <summary>Draws at every candidate (row i = candidates[i]), writes the draws the schedule keeps into
    /// <paramref name="tokens"/> and removes them from <paramref name="masked"/>; returns how many it revealed.</summary>
    public int Reveal(int step, IReadOnlyList<int> candidates, ProbabilityRow rows, ulong seed, ulong stream, Span<long> tokens, MaskedPositions masked)
    {
        if (candidates.Count == 0) return 0;
        var drawn = new long[candidates.Count];
        var confidences = new double[candidates.Count];
        for (var i = 0; i < candidates.Count; i++)
            drawn[i] = Draw(step, candidates[i], rows(i), seed, stream, out confidences[i]);
        return Keep(step, candidates, drawn, confidences, seed, stream, tokens, masked);
    }

    /// <summary>The token drawn at <paramref name="position"/> from its row, and the probability it had. A caller
    /// whose rows arrive piecemeal (the canvas, window by window) draws each as it completes and then calls
    /// <see cref="Keep"/> once: the same draws as <see cref="Reveal"/>, without holding every row at once.</summary>
    public long Draw(int step, int position, ReadOnlySpan<float> row, ulong seed, ulong stream, out double confidence)
    {
        int token;
        if (schedule.Greedy(step)) token = Categorical.Argmax(row);
        else token = sampling.Draw(row, step, schedule.Steps, CounterRng.Uniform(seed, stream, step, position, CounterRng.Purpose.Token));
        confidence = row[token];
        return token;
    }

    /// <summary>Writes the draws the schedule keeps and removes them from the mask; returns how many.</summary>
    public int Keep(int step, IReadOnlyList<int> candidates, ReadOnlySpan<long> drawn, ReadOnlySpan<double> confidences, ulong seed, ulong stream, Span<long> tokens, MaskedPositions unknown)
    {
        var keep = new List<int>(candidates.Count);
        schedule.Select(step, unknown.Count, candidates, confidences, seed, stream, keep);
        foreach (var i in keep)
        {
            tokens[candidates[i]] = drawn[i];
            unknown.Remove(candidates[i]);
        }
        return keep.Count;
    }
}
