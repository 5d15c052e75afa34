namespace UnleashingTransformers.Models.Sampling.Schedules;

/// <summary>
/// Which masked positions a sampler reveals at each of its steps, as diffusers' schedulers are apart from
/// its models. A step asks the schedule for candidates, gets their distributions from the network (or the
/// canvas's windows), draws a token at each, and the schedule selects which draws to keep. Every random
/// choice is keyed by (seed, stream, step, position) through <see cref="CounterRng"/>.
/// </summary>
public interface IRevealSchedule
{
    /// <summary>Number of steps (network passes at most) to reveal every position.</summary>
    int Steps { get; }

    /// <summary>The positions whose distributions are needed at <paramref name="step"/> (0-based), among the
    /// still-masked ones, ascending.</summary>
    void Candidates(int step, MaskedPositions masked, ulong seed, ulong stream, List<int> into);

    /// <summary>Of the candidates, the indices (ascending) of those to reveal, given the probability each one's
    /// drawn token had; <paramref name="maskedBefore"/> positions were masked before the step. Schedules that
    /// reveal every candidate keep them all.</summary>
    void Select(int step, int maskedBefore, IReadOnlyList<int> candidates, ReadOnlySpan<double> confidences, ulong seed, ulong stream, List<int> keep)
    {
        keep.Clear();
        for (var i = 0; i < candidates.Count; i++) keep.Add(i);
    }

    /// <summary>Whether the draws of <paramref name="step"/> take each position's most likely token instead of
    /// sampling it (a final denoising step, as the CTMC samplers end).</summary>
    bool Greedy(int step) => false;
}
