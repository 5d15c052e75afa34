using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Tests;

public class NatTests
{
    private static readonly TransformerConfig Small = new(CodebookSize: 10, Emb: 32, Heads: 4, Layers: 2, BlockSize: 64);

    /// <summary>Hand-built, apart from <see cref="Neighborhoods"/>: along each axis, the kernel members of the
    /// cell's residue class mod d nearest to it (a centred window, pushed inwards at the borders).</summary>
    private static bool[,] Mask(int h, int w, int k, int d)
    {
        int[] Nearest(int p, int size) => Enumerable.Range(0, size).Where(q => q % d == p % d).OrderBy(q => Math.Abs(q - p)).Take(k).ToArray();
        var mask = new bool[h * w, h * w];
        for (var i = 0; i < h; i++)
            for (var j = 0; j < w; j++)
                foreach (var r in Nearest(i, h))
                    foreach (var c in Nearest(j, w)) mask[i * w + j, r * w + c] = true;
        return mask;
    }

    [Fact]
    public void NeighborhoodAttentionEqualsFullAttentionWithANeighborhoodMask()
    {
        const int H = 7, W = 9, K = 3;
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var attn = new NeighborhoodAttention(Small, K, [1, 2]);   // heads 0-1 at dilation 1, 2-3 at dilation 2
        using var _ = no_grad();
        var x = randn(2, H * W, 32);
        var ours = attn.forward((x, H, W));

        // Full attention over every cell, scores outside each query's neighbourhood set to -inf.
        Tensor Heads(nn.Linear l) => l.forward(x).view(2, H * W, 4, 8).transpose(1, 2);
        var q = Rotary2d.Apply(Heads(attn.query), H, W) / Math.Sqrt(8);
        var k = Rotary2d.Apply(Heads(attn.key), H, W);
        var v = Heads(attn.value);
        var groups = new List<Tensor>();
        foreach (var (g, d) in new[] { (0, 1), (1, 2) })
        {
            var m = Mask(H, W, K, d);
            var allowed = from_array(Enumerable.Range(0, H * W * H * W).Select(i => m[i / (H * W), i % (H * W)]).ToArray(), H * W, H * W);
            var scores = q.narrow(1, 2 * g, 2).matmul(k.narrow(1, 2 * g, 2).transpose(-2, -1)).masked_fill(allowed.logical_not(), double.NegativeInfinity);
            groups.Add(scores.softmax(-1).matmul(v.narrow(1, 2 * g, 2)));
        }
        var full = attn.proj.forward(cat(groups, 1).transpose(1, 2).reshape(2, H * W, 32));
        var diff = (ours - full).abs().max().item<float>();
        Assert.True(diff < 1e-5, $"max |difference| {diff}");
        Assert.Equal(9, Enumerable.Range(0, H * W).Count(j => Mask(H, W, K, 2)[0, j]));   // every cell: exactly k² neighbours
    }

    [Fact]
    public void TheSameWeightsRunOnAnyGridAndSeeOnlyOffsets()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var nat = new Nat(new NatConfig(Small, 8, 8, Kernel: 3, Dilations: [1, 2]));
        using var _ = no_grad();
        foreach (var p in nat.parameters()) p.normal_(0, 0.2);
        Assert.Equal(new long[] { 2, 64, 10 }, nat.forward(randint(0, 11, new long[] { 2, 64 }, null, int64)).shape);

        // On a 20x20 grid, content moved by (2, 3) gives the same logits, moved, away from the borders: no absolute position.
        const int S = 20, Dy = 2, Dx = 3;
        var grid = randint(0, 11, new long[] { 1, S, S }, null, int64);
        var moved = grid.roll([Dy, Dx], [1, 2]);
        var a = nat.forward(grid.view(1, S * S), S, S).view(S, S, 10);
        var b = nat.forward(moved.view(1, S * S), S, S).view(S, S, 10);
        var interior = a.narrow(0, 6, 6).narrow(1, 6, 6);
        var shifted = b.narrow(0, 6 + Dy, 6).narrow(1, 6 + Dx, 6);
        Assert.True((interior - shifted).abs().max().item<float>() < 1e-4);
        Assert.True(interior.abs().max().item<float>() > 0.1);
        Assert.Contains("needs a grid of at least 6 a side", Assert.Throws<ArgumentException>(() => nat.forward(randint(0, 11, new long[] { 1, 25 }, null, int64), 5, 5)).Message);
    }

    [Fact]
    public void ACheckpointRecordsKernelAndDilationsAndSamplesAWholeLargerGrid()
    {
        using var scope = NewDisposeScope();
        using var prior = new AbsorbingDiffusion(PriorNetworks.Create(NatBackbone.Instance, Small, 8, 8, new BackboneOptions { Kernel = 3, Dilations = [1, 2] }), timesteps: 16);
        using (no_grad())
            foreach (var p in prior.parameters()) p.normal_(0, 0.2);
        var path = Path.Combine(Path.GetTempPath(), $"ut-nat-{Guid.NewGuid():N}.th");
        try
        {
            save(PriorCheckpoint.Recorded(prior.state_dict(), prior._denoise_fn), path);
            using var loaded = PriorCheckpoint.Load(path);
            var nat = Assert.IsType<Nat>(loaded._denoise_fn);
            Assert.Equal((3, 8, 8), (nat.Settings.Kernel, nat.Settings.GridHeight, nat.Settings.GridWidth));
            Assert.Equal([1, 2], nat.Settings.HeadDilations);
            using var _ = no_grad();
            var idx = randint(0, 11, new long[] { 2, 64 }, null, int64);
            Assert.True(prior.forward(idx).equal(loaded.forward(idx)));
            // A whole 12x20 grid in one pass a step, no windows.
            var whole = nat.DenoiserFor(12, 20, Device.CPU);
            Assert.Equal(240, whole.Length);
            var samples = new TokenSampler(whole, new RevealStep(new HaltonRevealSchedule(8, 12, 20, MaskScheduleKind.Cosine), TokenSampling.Plain(1))).Sample(1, 2);
            Assert.All(samples[0], t => Assert.InRange(t, 0, 9));
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Contains("dilations 1,2,3: one positive dilation per head group",   // 4 heads do not split in 3
            Assert.Throws<SettingException>(() => new Nat(new NatConfig(Small, 8, 8, 3, [1, 2, 3]))).Message);
        Assert.Contains("kernel 4: an odd number", Assert.Throws<SettingException>(() => new Nat(new NatConfig(Small, 8, 8, 4, [1]))).Message);
    }

    [Fact]
    public void LearnedPositionsTellCellsApartRoundTripAndBindThePriorToItsGrid()
    {
        using var scope = NewDisposeScope();
        using var prior = new AbsorbingDiffusion(PriorNetworks.Create(NatBackbone.Instance, Small, 8, 8, new BackboneOptions { Kernel = 3, Dilations = [1], Positions = NatPositions.Learned }),
            timesteps: 16);
        using (no_grad())
            foreach (var p in prior.parameters()) p.normal_(0, 0.2);
        var nat = Assert.IsType<Nat>(prior._denoise_fn);
        using var _ = no_grad();
        // An all-mask grid: rotary offsets alone give every cell the same logits; learned positions do not.
        var masked = full(new long[] { 1, 64 }, Small.MaskId, int64);
        var logits = nat.forward(masked);
        Assert.False(logits[0, 0].equal(logits[0, 27]));
        using var plain = new Nat(new NatConfig(Small, 8, 8, 3, [1]));
        var same = plain.forward(masked);
        Assert.True(same[0, 0].allclose(same[0, 27], 1e-5, 1e-5));
        Assert.Contains("learned positions on its 8x8 grid", Assert.Throws<ArgumentException>(() => nat.forward(full(new long[] { 1, 120 }, Small.MaskId, int64), 12, 10)).Message);
        var path = Path.Combine(Path.GetTempPath(), $"ut-nat-{Guid.NewGuid():N}.th");
        try
        {
            save(PriorCheckpoint.Recorded(prior.state_dict(), prior._denoise_fn), path);
            using var loaded = PriorCheckpoint.Load(path);
            Assert.Equal(NatPositions.Learned, Assert.IsType<Nat>(loaded._denoise_fn).Settings.Positions);
            var idx = randint(0, 11, new long[] { 2, 64 }, null, int64);
            Assert.True(prior.forward(idx).equal(loaded.forward(idx)));
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Contains("positions and layout are for backbone nat", Assert.Throws<SettingException>(() => PriorNetworks.Create(DitBackbone.Instance, Small, 8, 8,
            new BackboneOptions { Positions = NatPositions.Learned })).Message);
    }
}
