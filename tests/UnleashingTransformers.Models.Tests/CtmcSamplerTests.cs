using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using Xunit;

namespace UnleashingTransformers.Models.Tests;

/// <summary>Predicts token 1 (certainly) while more than half of a row is masked, token 2 after: what a
/// position gets depends on when it is drawn, so a corrector that withdraws early draws shows.</summary>
internal sealed class TimeTellingDenoiser(int length) : ITokenDenoiser
{
    public int Length => length;
    public int CodebookSize => 3;
    public int MaskId => 3;

    public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
    {
        var p = new float[wanted.Count * 3];
        for (var i = 0; i < wanted.Count; i++)
        {
            var row = tokens.Slice(wanted[i].Row * length, length);
            var masked = 0;
            foreach (var t in row) if (t == MaskId) masked++;
            p[i * 3 + (2 * masked > length ? 1 : 2)] = 1;
        }
        return p;
    }
}

public class CtmcSamplerTests
{
    [Fact]
    public void TauLeapingRevealsAtTheOneOverTRate()
    {
        const int L = 40000, S = 16;
        var schedule = new TauLeapingSchedule(S);
        Assert.Equal(S + 1, schedule.Steps);
        var masked = new MaskedPositions(L);
        var candidates = new List<int>();
        for (var k = 0; k < S; k++)
        {
            var before = masked.Count;
            schedule.Candidates(k, masked, 11, 0, candidates);
            foreach (var p in candidates) masked.Remove(p);
            var t = S - k;   // in steps of h = 1/S: the paper's t
            var rate = (double)candidates.Count / before;
            var leap = 1 - Math.Exp(-1.0 / t);
            var sigma = Math.Sqrt(leap * (1 - leap) / before);
            Assert.True(Math.Abs(rate - leap) < 4 * sigma, $"step {k}: revealed {rate:F4} of the masked, tau-leaping's 1 - exp(-1/t) = {leap:F4}");
            // Within the leap's known bias of the exact chain's 1/t (at most 1/(2t^2)).
            Assert.True(Math.Abs(rate - 1.0 / t) < 1.0 / (2.0 * t * t) + 4 * sigma, $"step {k}: revealed {rate:F4}, 1/t = {1.0 / t:F4}");
            Assert.False(schedule.Greedy(k));
        }
        // About 1 - e^-1 of what the last leap saw is left for the final greedy step, which takes the rest.
        Assert.InRange((double)masked.Count / L, 0.0, 0.08);
        Assert.True(masked.Count > 0);
        schedule.Candidates(S, masked, 11, 0, candidates);
        Assert.Equal(masked.Count, candidates.Count);
        Assert.True(schedule.Greedy(S));
    }

    [Fact]
    public void TheFinalStepTakesTheMostLikelyTokenAndEarlierStepsDraw()
    {
        const int L = 64, S = 8;
        // Token 0 holds 0.3 everywhere, the other four 0.175 each: the argmax is 0, draws are mostly others.
        var denoiser = new ConfidenceDenoiser(L, 5, _ => 0.3);
        var finalStep = new List<int>();
        var schedule = new TauLeapingSchedule(S);
        var seqs = new TokenSampler(denoiser, new RevealStep(schedule, TokenSampling.Plain(1))).Sample(200, 3);
        Assert.All(seqs, s => Assert.DoesNotContain(5L, s));
        // Replay which positions the final step took (the draws are keyed, so the same sequence 0).
        var masked = new MaskedPositions(L);
        var candidates = new List<int>();
        var tokens = Enumerable.Repeat(5L, L).ToArray();
        var step = new RevealStep(schedule, TokenSampling.Plain(1));
        for (var k = 0; k < schedule.Steps; k++)
        {
            step.Candidates(k, masked, 3, 0, candidates);
            if (k == S) finalStep.AddRange(candidates);
            step.Reveal(k, candidates, _ => new float[] { 0.3f, 0.175f, 0.175f, 0.175f, 0.175f }, 3, 0, tokens, masked);
        }
        Assert.Equal(seqs[0], tokens);
        Assert.NotEmpty(finalStep);
        Assert.All(finalStep, p => Assert.Equal(0L, tokens[p]));
        var drawn = seqs.SelectMany(s => s).Count(t => t != 0);
        Assert.True(drawn > 0.5 * seqs.Length * L, $"{drawn} of {seqs.Length * L} tokens are not the argmax: earlier steps draw");
    }

    [Fact]
    public void CorrectorLeapsWithdrawEarlyDrawsAndRedrawThem()
    {
        const int L = 64, S = 16, N = 40;
        var denoiser = new TimeTellingDenoiser(L);
        double Ones(long[][] seqs) => seqs.SelectMany(s => s).Count(t => t == 1) / (double)(seqs.Length * L);

        var plain = new TokenSampler(denoiser, new RevealStep(new TauLeapingSchedule(S), TokenSampling.Plain(1))).Sample(N, 5);
        var noCorrector = new PredictorCorrectorSampler(denoiser, S, 0, TokenSampling.Plain(1));
        Assert.Equal(S + 1, noCorrector.Steps);
        // With no corrector the predictor-corrector sampler is the tau-leaping sampler, draw for draw.
        Assert.Equal(plain, noCorrector.Sample(N, 5));

        var corrected = new PredictorCorrectorSampler(denoiser, S, 2, TokenSampling.Plain(1));
        Assert.Equal(S + 2 * (S - 1) + 1, corrected.Steps);
        var steps = 0;
        long passes = 0;
        var seqs = corrected.Sample(N, 5, progress: p => { steps = p.Step; passes = p.NetworkPasses; Assert.Equal(corrected.Steps, p.Steps); });
        Assert.Equal(corrected.Steps, steps);
        Assert.True(passes <= corrected.Steps);
        Assert.All(seqs, s => Assert.DoesNotContain(3L, s));
        // Tokens drawn while most was masked are 1s; correctors withdraw many of them and redraw them later, as 2s.
        Assert.True(Ones(plain) > 0.2, $"plain tau-leaping: {Ones(plain):P0} ones");
        Assert.True(Ones(seqs) < 0.5 * Ones(plain), $"with correctors {Ones(seqs):P0} ones, without {Ones(plain):P0}");
        // Keyed draws: sample i is the same alone or in a batch.
        Assert.Equal(seqs[7], corrected.Sample(1, 5, firstIndex: 7)[0]);
    }
}
