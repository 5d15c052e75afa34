namespace UnleashingTransformers.Models.Sampling;

/// <summary>
/// One step of a sampler, the one <see cref="TokenSampler"/> and the canvas both take, whatever the prior's
/// corruption: the step names the candidate positions; the caller gets their distributions (from the network, or
/// aggregated from windows); a token is drawn at each, keyed by (seed, stream, step, position); the step keeps some
/// of the draws. <see cref="RevealStep"/> is the absorbing prior's (a position, once revealed, is never drawn again);
/// <see cref="RefineStep"/> is SUNDAE's (every unknown position stays open and is redrawn). Made by
/// <see cref="Schedules.ScheduleChoice.Step"/>, the one place that knows both.
/// </summary>
public interface ITokenStep
{
    /// <summary>Steps at most.</summary>
    int Steps { get; }

    /// <summary>Whether positions stay open after a draw (SUNDAE), rather than leaving the unknown set when revealed.</summary>
    bool Refines { get; }

    /// <summary>Readies a sequence before its first step: the unknown positions hold the mask id; a refining step
    /// replaces it by a uniform random token.</summary>
    void Begin(Span<long> tokens, MaskedPositions unknown, int codebookSize, ulong seed, ulong stream);

    /// <summary>The positions whose distributions step <paramref name="step"/> (0-based) needs, ascending.</summary>
    void Candidates(int step, MaskedPositions unknown, ulong seed, ulong stream, List<int> into);

    /// <summary>The token drawn at <paramref name="position"/> from its row, and the probability it had.</summary>
    long Draw(int step, int position, ReadOnlySpan<float> row, ulong seed, ulong stream, out double confidence);

    /// <summary>Writes the draws the step keeps into <paramref name="tokens"/>; returns how many tokens it revealed or changed.</summary>
    int Keep(int step, IReadOnlyList<int> candidates, ReadOnlySpan<long> drawn, ReadOnlySpan<double> confidences, ulong seed, ulong stream, Span<long> tokens, MaskedPositions unknown);

    /// <summary>Whether a sequence is done after step <paramref name="step"/>, whose <see cref="Keep"/> returned <paramref name="kept"/>
    /// (0 when it had no candidates).</summary>
    bool Finished(int step, MaskedPositions unknown, int kept);
}
