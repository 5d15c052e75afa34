using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Tests;

/// <summary>A denoiser whose every distribution puts <c>confidence(position)</c> on token 0 and spreads the rest.</summary>
internal sealed class ConfidenceDenoiser(int length, int codebook, Func<int, double> confidence) : ITokenDenoiser
{
    public int Length => length;
    public int CodebookSize => codebook;
    public int MaskId => codebook;
    public readonly List<int[]> Asked = new();

    public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
    {
        Asked.Add(wanted.Select(w => w.Position).ToArray());
        var p = new float[wanted.Count * codebook];
        for (var i = 0; i < wanted.Count; i++)
        {
            var c = confidence(wanted[i].Position);
            p[i * codebook] = (float)c;
            for (var k = 1; k < codebook; k++) p[i * codebook + k] = (float)((1 - c) / (codebook - 1));
        }
        return p;
    }
}

public class ScheduleTests
{
    /// <summary>Each schedule with the mask schedule that counts its reveals (none: the 1/t law).</summary>
    private static IEnumerable<(IRevealSchedule schedule, MaskScheduleKind? counts)> AllSchedules(int steps, int h, int w) =>
    [
        (new ReciprocalRevealSchedule(steps), null),
        (new ConfidenceRevealSchedule(steps, MaskScheduleKind.Cosine, 4.5), MaskScheduleKind.Cosine),
        (new ConfidenceRevealSchedule(steps, MaskScheduleKind.Linear, 0), MaskScheduleKind.Linear),
        (new HaltonRevealSchedule(steps, h, w, MaskScheduleKind.Arccos), MaskScheduleKind.Arccos),
        (new HaltonRevealSchedule(steps, h, w, MaskScheduleKind.Cosine), MaskScheduleKind.Cosine),
        (new TauLeapingSchedule(steps), null),
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(100)]
    public void EveryScheduleRevealsEveryPositionOnceAndEndsWithNoneMasked(int steps)
    {
        const int H = 4, W = 6, L = H * W;
        foreach (var (schedule, counts) in AllSchedules(steps, H, W))
        {
            var tokens = Enumerable.Repeat(5L, L).ToArray();
            var masked = new MaskedPositions(L);
            var step = new RevealStep(schedule, TokenSampling.Plain(1));
            var candidates = new List<int>();
            var writes = new int[L];
            for (var k = 0; k < schedule.Steps; k++)
            {
                var before = tokens.ToArray();
                step.Candidates(k, masked, 7, 0, candidates);
                Assert.All(candidates, p => Assert.Equal(5L, tokens[p]));         // only masked positions are candidates
                var maskedBefore = masked.Count;
                var n = step.Reveal(k, candidates, _ => new float[] { 0.2f, 0.3f, 0.5f, 0, 0 }, 7, 0, tokens, masked);
                Assert.Equal(maskedBefore - n, masked.Count);
                if (counts is { } kind) Assert.Equal(MaskRatio.RevealCount(kind, k, steps, maskedBefore), n);
                for (var p = 0; p < L; p++)
                    if (before[p] != tokens[p]) writes[p]++;
            }
            Assert.Equal(0, masked.Count);
            Assert.All(tokens, t => Assert.InRange(t, 0, 2));
            Assert.All(writes, c => Assert.Equal(1, c));
        }
    }

    [Fact]
    public void TheCountScheduleFollowsMaskGitsRatioAndSumsToTheLength()
    {
        // First step from a full mask keeps floor(L γ(1/S)) masked, as MaskGIT.
        Assert.Equal(256 - (int)Math.Floor(256 * Math.Cos(Math.PI / 2 / 8)), MaskRatio.RevealCount(MaskScheduleKind.Cosine, 0, 8, 256));
        Assert.Equal(256 - (int)Math.Floor(256 * (1 - 1 / 8.0)), MaskRatio.RevealCount(MaskScheduleKind.Linear, 0, 8, 256));
        Assert.Equal(256 - (int)Math.Floor(256 * Math.Acos(1 / 8.0) / (Math.PI / 2)), MaskRatio.RevealCount(MaskScheduleKind.Arccos, 0, 8, 256));
        foreach (var kind in Enum.GetValues<MaskScheduleKind>())
            foreach (var (steps, length) in new[] { (8, 256), (16, 1024), (3, 5), (12, 12), (30, 7) })
            {
                var masked = length;
                var counts = new List<int>();
                for (var k = 0; k < steps; k++)
                {
                    var n = MaskRatio.RevealCount(kind, k, steps, masked);
                    Assert.True(masked == 0 || n >= 1);
                    counts.Add(n);
                    masked -= n;
                }
                Assert.Equal(0, masked);
                // cosine reveals few tokens first and many last: the step counts grow (non-strictly) for it.
                if (kind == MaskScheduleKind.Cosine && steps < length) Assert.True(counts[0] <= counts[^1], string.Join(",", counts));
            }
        Assert.Throws<ArgumentException>(() => MaskRatio.Parse("square"));
    }

    [Fact]
    public void ConfidenceKeepsTheMostConfidentDrawsAndNoiseOnlyReordersNearTies()
    {
        // Confidence rises with the position: with no Gumbel noise the first step keeps exactly the top n positions.
        const int L = 32, S = 4;
        var denoiser = new ConfidenceDenoiser(L, 6, p => 0.3 + 0.6 * p / L);
        var greedy = new RevealStep(new ConfidenceRevealSchedule(S, MaskScheduleKind.Cosine, 0), new TokenSampling(1, null, 1, 1));
        var sampler = new TokenSampler(denoiser, greedy);
        var order = new List<int[]>();
        var masked = new MaskedPositions(L);
        var tokens = Enumerable.Repeat(6L, L).ToArray();
        var candidates = new List<int>();
        var n0 = MaskRatio.RevealCount(MaskScheduleKind.Cosine, 0, S, L);
        greedy.Candidates(0, masked, 1, 0, candidates);
        Assert.Equal(Enumerable.Range(0, L), candidates);                      // every masked position is a candidate
        var probs = denoiser.Probabilities(tokens, 1, candidates.Select(p => new WantedPosition(0, p)).ToList());
        greedy.Reveal(0, candidates, i => probs.AsSpan(i * 6, 6), 1, 0, tokens, masked);
        var revealed = Enumerable.Range(0, L).Where(p => tokens[p] != 6).ToArray();
        Assert.Equal(Enumerable.Range(L - n0, n0), revealed);                 // the n0 most confident
        Assert.All(revealed, p => Assert.Equal(0L, tokens[p]));               // top-k 1: the argmax
        // The whole run reveals from the most to the least confident.
        var seq = sampler.Sample(1, 1)[0];
        Assert.All(seq, t => Assert.Equal(0L, t));
        Assert.Equal(new[] { L, L - n0 }, denoiser.Asked.Skip(1).Take(2).Select(a => a.Length));   // after the hand-run step

        // Hand-made near tie: confidences 0.50 vs 0.49 at two positions; noise of temperature 4.5 picks either,
        // depending on the seed; temperature 0 always picks the 0.50.
        var tie = new ConfidenceRevealSchedule(2, MaskScheduleKind.Linear, 4.5);
        var picks = new HashSet<int>();
        var keep = new List<int>();
        for (ulong seed = 0; seed < 50; seed++)
        {
            tie.Select(0, 2, [10, 11], [0.50, 0.49], seed, 0, keep);
            picks.Add(Assert.Single(keep));
        }
        Assert.Equal(new[] { 0, 1 }, picks.Order());
        new ConfidenceRevealSchedule(2, MaskScheduleKind.Linear, 0).Select(0, 2, [10, 11], [0.49, 0.50], 3, 0, keep);
        Assert.Equal(1, Assert.Single(keep));
    }

    [Fact]
    public void HaltonOrderIsTheSequencesFirstCellsAndSpreadsEvenly()
    {
        // Hand-computed: points (φ2(i), φ3(i)) for i = 1..5 are (1/2,1/3), (1/4,2/3), (3/4,1/9), (1/8,4/9), (5/8,7/9);
        // on a 4x4 grid the cells (row, col) (2,1), (1,2), (3,0), (0,1), (2,3).
        Assert.Equal(new[] { 9, 6, 12, 1, 11 }, HaltonRevealSchedule.Order(4, 4).Take(5));
        foreach (var (h, w) in new[] { (16, 16), (8, 8), (32, 64), (5, 7) })
        {
            var order = HaltonRevealSchedule.Order(h, w);
            Assert.Equal(Enumerable.Range(0, h * w), order.Order());           // a permutation of the grid
        }
        // Low discrepancy: after a quarter of a 16x16 grid, every 4x4 block holds 2 to 6 of its cells (4 on average);
        // a random order of the same seed-free kind would leave some block with 0 or 1 often.
        var quarter = HaltonRevealSchedule.Order(16, 16).Take(64).ToArray();
        var blocks = quarter.GroupBy(c => c / 16 / 4 * 4 + c % 16 / 4).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(16, blocks.Count);
        Assert.All(blocks.Values, n => Assert.InRange(n, 2, 6));
    }

    [Fact]
    public void TopKTopPAndTemperatureRampsDrawFromTheFilteredDistribution()
    {
        var probs = new float[] { 0.5f, 0.3f, 0.15f, 0.05f };
        double[] Frequencies(int topK, double topP, double temperature = 1)
        {
            var counts = new double[4];
            const int n = 40000;
            for (var i = 0; i < n; i++) counts[Categorical.Sample(probs, temperature, (i + 0.5) / n, topK, topP)]++;
            return counts.Select(c => c / n).ToArray();
        }
        var k2 = Frequencies(2, 1);
        Assert.Equal(0.5 / 0.8, k2[0], 3);
        Assert.Equal(0.3 / 0.8, k2[1], 3);
        Assert.Equal(0, k2[2] + k2[3]);
        var p07 = Frequencies(0, 0.7);                                       // 0.5 < 0.7 <= 0.8: the two heaviest
        Assert.Equal(k2, p07);
        Assert.Equal(new double[] { 1, 0, 0, 0 }, Frequencies(0, 0.45));     // the heaviest alone holds 0.5
        var both = Frequencies(3, 0.9);                                       // top 3 mass 0.95; 0.9 of it needs all three
        Assert.Equal(0.15 / 0.95, both[2], 3);
        // Temperature first, then the filter: at τ = 0.5 weights are p², the top-2 share 0.25/(0.25+0.09).
        Assert.Equal(0.25 / 0.34, Frequencies(2, 1, 0.5)[0], 3);
        Assert.Equal(Frequencies(0, 1), Enumerable.Range(0, 4).Select(k => (double)probs[k]).ToArray(), (a, b) => Math.Abs(a - b) < 1e-3);

        var ramp = new TokenSampling(0.9, 0.6, 0, 1);
        Assert.Equal(0.9, ramp.TemperatureAt(0, 4), 12);
        Assert.Equal(0.8, ramp.TemperatureAt(1, 4), 12);
        Assert.Equal(0.6, ramp.TemperatureAt(3, 4), 12);
        Assert.Equal((0.9, 0.6), TokenSampling.ParseTemperature("0.9:0.6"));
        Assert.Equal((0.7, null), TokenSampling.ParseTemperature("0.7"));
        Assert.Throws<SettingException>(() => TokenSampling.ParseTemperature("hot"));
        Assert.Throws<SettingException>(() => new TokenSampling(1, null, -1, 1).Checked());
        Assert.Throws<SettingException>(() => new TokenSampling(1, null, 0, 0).Checked());
        Assert.Throws<SettingException>(() => new TokenSampling(1, 0, 0, 1).Checked());
    }

    [Fact]
    public void EverySchedulesSamplesAreTheSameWhateverTheBatching()
    {
        using var scope = NewDisposeScope();
        using var m = Fixture.TinyPrior();
        m.eval();
        using var inf = new TransformerInference(m.TransformerBackbone);
        var denoiser = new TransformerDenoiser(inf, Device.CPU);
        foreach (var choice in new[] { "confidence", "halton", "reciprocal", "tau-leaping" })
        {
            var schedule = ScheduleChoice.Parse(choice, "cosine", 4.5).Create(6, 4, 4);
            var sampler = new TokenSampler(denoiser, new RevealStep(schedule, new TokenSampling(1.0, 0.7, 8, 0.95)));
            var a = sampler.Sample(5, 123, batchSize: 5);
            var b = sampler.Sample(5, 123, batchSize: 2);
            var single = sampler.Sample(1, 123, firstIndex: 3)[0];
            for (var i = 0; i < 5; i++) Assert.Equal(a[i], b[i]);
            Assert.Equal(a[3], single);
            Assert.NotEqual(a.SelectMany(x => x), sampler.Sample(5, 124, batchSize: 5).SelectMany(x => x));
        }
        Assert.Contains("expected reciprocal, confidence, halton or tau-leaping", Assert.Throws<ArgumentException>(() => ScheduleChoice.Parse("best", "cosine", 1)).Message);
    }

    [Fact]
    public void PixelMasksBecomeTokenMasksByAnyOverlapAndRegionsAreChecked()
    {
        // 8x12 px, 4-px tokens: a 2x3 token grid. One white pixel at (5, 4) marks token (1, 1); a block at rows 0-1,
        // columns 8-11 marks token (0, 2).
        var pixels = new bool[8 * 12];
        pixels[5 * 12 + 4] = true;
        for (var y = 0; y < 2; y++)
            for (var x = 8; x < 12; x++) pixels[y * 12 + x] = true;
        Assert.Equal(new[] { false, false, true, false, true, false }, TokenMask.FromPixels(pixels, 8, 12, 4));
        Assert.Throws<ArgumentException>(() => TokenMask.FromPixels(pixels, 8, 12, 5));

        var region = TokenRegion.Parse("1:3,2:4", 4, 5);
        Assert.Equal(new TokenRegion(1, 3, 2, 4), region);
        var mask = region.Mask(4, 5);
        Assert.Equal(4, mask.Count(m => m));
        Assert.True(mask[1 * 5 + 2] && mask[2 * 5 + 3] && !mask[1 * 5 + 4] && !mask[3 * 5 + 2]);
        Assert.Equal(new long[] { 1, 9, 3, 9 }, TokenMask.Apply([1, 2, 3, 4], [false, true, false, true], 9));
        foreach (var bad in new[] { "1:3", "a:b,c:d", "0:5,0:2", "2:2,0:1", "-1:2,0:1", "0:1,3:2" })
            Assert.Throws<SettingException>(() => TokenRegion.Parse(bad, 4, 5));
    }

    [Fact]
    public void MaskedPositionsRemoveInConstantTimeAndListAscending()
    {
        var m = new MaskedPositions([5, 0, 5, 5, 1, 5], 5);
        Assert.Equal(new[] { 0, 2, 3, 5 }, m.Positions.ToArray());
        m.Remove(2);
        m.Remove(2);
        m.Remove(1);                                                              // not masked: nothing changes
        Assert.Equal(3, m.Count);
        Assert.False(m.Contains(2));
        Assert.Equal(new[] { 0, 3, 5 }, m.Positions.ToArray());
        m.Remove(0);
        Assert.Equal(new[] { 3, 5 }, m.Positions.ToArray());
    }
}
