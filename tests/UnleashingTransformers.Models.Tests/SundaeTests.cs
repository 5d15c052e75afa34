using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Testing;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using Xunit;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.Tests;

/// <summary>Always certain of one token per position (token = position mod K): whatever a SUNDAE step starts
/// from, once every position has been redrawn nothing changes any more. Counts the rows it is asked for.</summary>
internal sealed class FixedPointDenoiser(int length, int codebook, bool certain = true) : ITokenDenoiser
{
    public int Length => length;
    public int CodebookSize => codebook;
    public int MaskId => codebook;
    public Corruption Corruption => Corruption.Uniform;
    public long Rows { get; private set; }

    public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
    {
        Rows += rows;
        for (var i = 0; i < tokens.Length; i++)
            Assert.InRange(tokens[i], 0, codebook - 1);   // a refining step never shows the network a mask
        var p = new float[wanted.Count * codebook];
        for (var i = 0; i < wanted.Count; i++)
            if (certain) p[i * codebook + wanted[i].Position % codebook] = 1;
            else for (var k = 0; k < codebook; k++) p[i * codebook + k] = 1f / codebook;
        return p;
    }
}

public class SundaeTests : TempDirTest
{
    private static HourglassConfig Tiny(int side = 8, int shorten = 4, int dimHead = 16) =>
        new(new TransformerConfig(CodebookSize: 16, Emb: 32, Heads: 2, Layers: 4, BlockSize: side * side), side, side, 1, 2, 1, shorten, dimHead);

    [Fact]
    public void BlockMergeTakesSquareBlocksAndSplitUndoesIt()
    {
        using var scope = NewDisposeScope();
        // A 4x6 grid whose one channel holds the cell's index: 2x2 blocks merge into (d sh sw) channels.
        var x = arange(24, float32).reshape(1, 24, 1);
        var blocks = new BlockResampling(2);
        var merged = blocks.Merge(x, 4, 6);
        Assert.Equal(new long[] { 1, 6, 4 }, merged.shape);
        Assert.Equal(new float[] { 0, 1, 6, 7 }, merged[0, 0].ToArray<float>());      // rows 0-1, columns 0-1
        Assert.Equal(new float[] { 2, 3, 8, 9 }, merged[0, 1].ToArray<float>());      // not cells 4..7 of the raster
        Assert.Equal(new float[] { 16, 17, 22, 23 }, merged[0, 5].ToArray<float>());  // rows 2-3, columns 4-5
        // Two channels: each block's values channel-major, as "b (h sh) (w sw) d -> b h w (d sh sw)".
        var two = cat(new[] { x, x + 100 }, -1);
        Assert.Equal(new float[] { 0, 1, 6, 7, 100, 101, 106, 107 }, blocks.Merge(two, 4, 6)[0, 0].ToArray<float>());
        // The round trip is exact.
        var y = randn(3, 24, 5);
        Assert.True(blocks.Split(blocks.Merge(y, 4, 6), 4, 6).equal(y));
        Assert.True(new BlockResampling(3).Split(new BlockResampling(3).Merge(randn(2, 36, 2), 6, 6), 6, 6).shape.SequenceEqual(new long[] { 2, 36, 2 }));
    }

    [PyTorchFact]
    public void ForwardReproducesTheReferenceHourglassAndItsBareStateDictLoads()
    {
        var (code, output) = PyTorch.Run(Fixture.PathOf("make_hourglass_fixture.py"), Dir);
        Assert.True(code == 0, output);
        using var scope = NewDisposeScope();
        var io = (PyDict)load(P("hourglass_io.pt"))!;
        var (idx, theirs) = ((Tensor)io["idx"]!, (Tensor)io["logits"]!);
        using (var net = new Hourglass(Tiny()))
        {
            net.load_state_dict(load_state_dict(P("hourglass.pt")));   // every key of the reference's, same names and shapes
            using var _ = no_grad();
            var ours = net.forward(idx);
            var diff = (ours - theirs).abs().max().item<float>();
            Assert.True(diff < 1e-4, $"max |difference| {diff}");
            Assert.True(theirs.abs().max().item<float>() > 0.5);   // not a comparison of small numbers
        }
        // The reference saves net.state_dict() bare: it loads as a prior, its grid read from the valley's frequencies.
        using var prior = PriorCheckpoint.Load(P("hourglass.pt"), heads: 2);
        var hourglass = Assert.IsType<Hourglass>(prior._denoise_fn);
        Assert.Equal(Tiny(), hourglass.Settings);
        Assert.Equal(Corruption.Uniform, hourglass.Corruption);
        using (no_grad()) Assert.True((prior.forward(idx) - theirs).abs().max().item<float>() < 1e-4);
    }

    [Fact]
    public void RotaryTurnsOnlyTheFirstHeadAndDependsOnPositionDifferences()
    {
        using var scope = NewDisposeScope();
        using var rotary = new PixelRotary(8, 16);
        var angles = rotary.Angles(4, 4);
        Assert.Equal(new long[] { 16, 16 }, angles.cos.shape);
        var t = randn(1, 16, 40);
        var turned = RotaryPairs.Apply(t, angles);
        Assert.True(turned.narrow(-1, 16, 24).equal(t.narrow(-1, 16, 24)));    // channels past the rotated ones pass
        Assert.False(turned.narrow(-1, 0, 16).allclose(t.narrow(-1, 0, 16)));
        // A rotation: norms of the interleaved pairs kept, and q·k depends on the offset only.
        var pairs = t.narrow(-1, 0, 16).reshape(1, 16, 8, 2).pow(2).sum(-1);
        Assert.True(turned.narrow(-1, 0, 16).reshape(1, 16, 8, 2).pow(2).sum(-1).allclose(pairs, 1e-4, 1e-5));
        var (q, k) = (randn(16), randn(16));
        float Dot(int a, int b) => (RotaryPairs.Apply(q.expand(16, 16), angles)[a] * RotaryPairs.Apply(k.expand(16, 16), angles)[b]).sum().item<float>();
        Assert.Equal(Dot(0, 5), Dot(10, 15), 3);   // both one row down and one column right
        Assert.NotEqual(Dot(0, 5), Dot(0, 6), 3);
    }

    [Fact]
    public void ShortenMustBeASquareThatTilesTheGrid()
    {
        Assert.Contains("must be a square", Assert.Throws<SettingException>(() => Tiny(shorten: 3).Validate()).Message);
        Assert.Contains("multiples of 3", Assert.Throws<SettingException>(() => Tiny(side: 8, shorten: 9).Validate()).Message);
        Assert.Contains("pre-valley-post", Assert.Throws<SettingException>(() => HourglassConfig.ParseDepth("24")).Message);
        Assert.Contains("pre-valley-post", Assert.Throws<SettingException>(() => HourglassConfig.ParseDepth("1-0-1")).Message);
        Assert.Equal((2, 10, 2), HourglassConfig.ParseDepth(HourglassConfig.DefaultDepth));
    }

    [Fact]
    public void CorruptionReplacesAShareDrawnPerRowAndTheUnrolledLossIsItsHandComputation()
    {
        using var scope = NewDisposeScope();
        // Rows of 4000 tokens: the share changed per row is r (1 - 1/K), r ~ U(0, 1).
        var x0 = zeros(new long[] { 200, 4000 }, int64);
        using (var g = RowNoise.Seeded(3, 200))
        {
            var changed = StepUnrolledDenoising.Corrupt(x0, 10, g).ne(0).to(float32).mean(1).ToArray<float>().Select(c => c / 0.9).ToArray();
            Assert.InRange(changed.Average(), 0.43, 0.57);
            Assert.InRange(changed.Count(c => c < 0.25) / 200.0, 0.15, 0.35);   // spread like a uniform rate, not one fixed rate
            Assert.InRange(changed.Count(c => c > 0.75) / 200.0, 0.15, 0.35);
        }

        manual_seed(5);
        using var net = new Hourglass(Tiny());
        var batch = randint(0, 16, new long[] { 3, 64 }, null, int64);
        using (var g = RowNoise.Seeded(9, 3))
        {
            using var loss = StepUnrolledDenoising.Loss(net, batch, 2, g);
            // By hand, with the same draws: corrupt; logits; sample them and feed back; logits; mean cross-entropy of both.
            using var h = RowNoise.Seeded(9, 3);
            var xt = StepUnrolledDenoising.Corrupt(batch, 16, h);
            var first = net.forward(xt);
            var fed = h.Categorical(first.detach().softmax(-1));
            var second = net.forward(fed);
            Tensor Ce(Tensor logits) => -logits.log_softmax(-1).gather(-1, batch.unsqueeze(-1)).squeeze(-1);
            var expected = (Ce(first).mean() + Ce(second).mean()) / 2;
            Assert.Equal(expected.item<float>(), loss.Loss.item<float>(), 4);
            Assert.True(((Ce(first).mean(1) + Ce(second).mean(1)) / 2 / Math.Log(2)).allclose(loss.VbPerSample, 1e-5, 1e-6));   // bits per token, per sample
            // The gradient reaches the weights through both unrolled steps.
            loss.Loss.backward();
            Assert.True(net.token_emb.weight.grad!.abs().sum().item<float>() > 0);
        }
        // One step unrolled is plain denoising.
        using (var g = RowNoise.Seeded(9, 3))
        using (var h = RowNoise.Seeded(9, 3))
        using (var one = StepUnrolledDenoising.Loss(net, batch, 1, g))
            Assert.Equal(F.cross_entropy(net.forward(StepUnrolledDenoising.Corrupt(batch, 16, h)).permute(0, 2, 1), batch).item<float>(), one.Loss.item<float>(), 4);
    }

    private static RefineStep Step(int steps, int minSteps = 3, double proportion = 0.5, double? end = null) =>
        new(new RefineSchedule(proportion, end, minSteps).Checked(), TokenSampling.Plain(1.0), steps);

    [Fact]
    public void SundaeSamplingStopsOnceAStepChangesNothingAndFrozenSamplesLeaveTheBatch()
    {
        var denoiser = new FixedPointDenoiser(64, 8);
        var finished = new List<SamplingProgress>();
        var samples = new TokenSampler(denoiser, Step(100)).Sample(4, 17, batchSize: 4, progress: finished.Add);
        // Near the fixed point: self-stopping is the reference's heuristic, a step whose share missed the last few
        // unsettled positions changes nothing too.
        foreach (var s in samples) Assert.True(s.Where((t, p) => t == p % 8).Count() >= 56, string.Join(",", s));
        var last = finished[^1];
        Assert.Equal(finished[^2].Revealed, last.Revealed);   // the last step changed nothing
        Assert.Equal(4, last.Finished);
        Assert.True(last.Step < 30, $"ran {last.Step} of 100 steps");   // stopped early: about log2(64) + a few steps
        Assert.True(last.Step > 3, "not before --min-steps");
        Assert.True(denoiser.Rows < 4L * last.Step, "frozen samples leave the batch before the last one stops");
        // Keyed draws: a sample is the same alone or in a batch, and its steps too.
        Assert.Equal(samples[2], new TokenSampler(new FixedPointDenoiser(64, 8), Step(100)).Sample(1, 17, firstIndex: 2)[0]);

        // Uncertain, it changes something every step and runs them all.
        var uniform = new List<SamplingProgress>();
        new TokenSampler(new FixedPointDenoiser(64, 8, certain: false), Step(20)).Sample(2, 17, progress: uniform.Add);
        Assert.Equal(20, uniform[^1].Step);
        Assert.Equal(0, uniform[^1].Finished);
    }

    [Fact]
    public void ARefineStepStartsRandomKeepsKnownTokensAndRedrawsItsShare()
    {
        var step = Step(10, proportion: 0.8, end: 0.2);
        var unknown = new MaskedPositions(Enumerable.Range(0, 4000).Select(p => p % 4 != 0).ToArray());   // every 4th known
        var tokens = Enumerable.Range(0, 4000).Select(p => p % 4 == 0 ? 7L : 8L).ToArray();
        step.Begin(tokens, unknown, 8, 5, 0);
        Assert.All(Enumerable.Range(0, 4000).Where(p => p % 4 == 0), p => Assert.Equal(7, tokens[p]));
        var drawnAtStart = Enumerable.Range(0, 4000).Where(p => p % 4 != 0).Select(p => tokens[p]).ToArray();
        Assert.All(drawnAtStart, t => Assert.InRange(t, 0, 7));
        Assert.InRange(drawnAtStart.Count(t => t == 3) / 3000.0, 0.09, 0.16);   // uniform over 8
        var candidates = new List<int>();
        foreach (var (k, share) in new[] { (0, 0.8), (9, 0.2) })
        {
            step.Candidates(k, unknown, 5, 0, candidates);
            Assert.All(candidates, p => Assert.NotEqual(0, p % 4));
            Assert.InRange(candidates.Count / 3000.0, share - 0.04, share + 0.04);
        }
        Assert.Equal(0.5, step.Schedule.ProportionAt(4, 9), 9);
        Assert.Contains("(0, 1]", Assert.Throws<SettingException>(() => new RefineSchedule(1.5).Checked()).Message);
    }
}
