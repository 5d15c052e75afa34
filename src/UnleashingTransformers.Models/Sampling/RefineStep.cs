namespace UnleashingTransformers.Models.Sampling;

/// <summary>
/// SUNDAE's schedule (SUNDAE-VQGAN's sample_fn): the share of positions that take a new draw each step, moving
/// linearly from <see cref="Proportion"/> to <see cref="ProportionEnd"/> over the steps as the temperature does, and
/// the self-stopping rule: from step <see cref="MinSteps"/> (0-based) on, a sequence whose step changed nothing is
/// done. Defaults are the reference's (0.5 constant, 10).
/// </summary>
public sealed record RefineSchedule(double Proportion = 0.5, double? ProportionEnd = null, int MinSteps = 10)
{
    public RefineSchedule Checked()
    {
        if (!(Proportion is > 0 and <= 1) || ProportionEnd is { } e && !(e is > 0 and <= 1))
            throw new SettingException(SettingNames.RefineProportion, "START[:END] must lie in (0, 1]");
        if (MinSteps < 0) throw new SettingException(SettingNames.RefineMinSteps, "must be >= 0");
        return this;
    }

    public double ProportionAt(int step, int steps) =>
        ProportionEnd is { } end && steps > 1 ? Proportion + (end - Proportion) * Math.Min(step, steps - 1) / (steps - 1) : Proportion;
}

/// <summary>
/// SUNDAE's step: a sequence starts from uniform random tokens at its unknown positions (known ones, inpainting's,
/// stay fixed); each step a share of the unknown positions, drawn per position, take a token drawn from the network's
/// (or the windows') distribution at the step's temperature; the others keep theirs. Every position is re-predicted
/// each step and none is ever committed, which is what lets the prior correct itself. Draws keyed by (seed, stream,
/// step, position); asking only for the positions that will change is equal in distribution to the reference's
/// drawing everywhere and discarding the rest.
/// </summary>
public sealed class RefineStep(RefineSchedule schedule, TokenSampling sampling, int steps) : ITokenStep
{
    public RefineSchedule Schedule => schedule;
    public TokenSampling Sampling => sampling;
    public int Steps => steps;
    public bool Refines => true;

    public void Begin(Span<long> tokens, MaskedPositions unknown, int codebookSize, ulong seed, ulong stream)
    {
        foreach (var p in unknown.Positions)
            tokens[p] = Math.Min(codebookSize - 1, (long)(CounterRng.Uniform(seed, stream, 0, p, CounterRng.Purpose.Start) * codebookSize));
    }

    public void Candidates(int step, MaskedPositions unknown, ulong seed, ulong stream, List<int> into)
    {
        into.Clear();
        var share = schedule.ProportionAt(step, steps);
        foreach (var p in unknown.Positions)
            if (CounterRng.Uniform(seed, stream, step, p, CounterRng.Purpose.Reveal) < share) into.Add(p);
    }

    public long Draw(int step, int position, ReadOnlySpan<float> row, ulong seed, ulong stream, out double confidence)
    {
        var token = sampling.Draw(row, step, steps, CounterRng.Uniform(seed, stream, step, position, CounterRng.Purpose.Token));
        confidence = row[token];
        return token;
    }

    /// <summary>Writes every draw; returns how many tokens changed.</summary>
    public int Keep(int step, IReadOnlyList<int> candidates, ReadOnlySpan<long> drawn, ReadOnlySpan<double> confidences, ulong seed, ulong stream, Span<long> tokens, MaskedPositions unknown)
    {
        var changed = 0;
        for (var i = 0; i < candidates.Count; i++)
        {
            if (tokens[candidates[i]] != drawn[i]) changed++;
            tokens[candidates[i]] = drawn[i];
        }
        return changed;
    }

    public bool Finished(int step, MaskedPositions unknown, int kept) => step >= schedule.MinSteps && kept == 0;
}
