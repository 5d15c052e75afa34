using System.Text.Json;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Tests;

internal static class Fixture
{
    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);
    public static JsonElement Json(string name) => JsonDocument.Parse(File.ReadAllText(PathOf(name))).RootElement;
    public static double[] Doubles(this JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();
    public static long[] Longs(this JsonElement e) => e.EnumerateArray().Select(v => v.GetInt64()).ToArray();

    /// <summary>A tiny prior with random weights.</summary>
    public static AbsorbingDiffusion TinyPrior(int codebook = 12, int emb = 32, int heads = 4, int layers = 2, int block = 16, int timesteps = 16)
    {
        manual_seed(11);
        var m = new AbsorbingDiffusion(new TransformerConfig(codebook, emb, heads, layers, block), timesteps);
        using (no_grad()) m.TransformerBackbone.pos_emb.normal_(0, 0.5);
        return m;
    }
}

public class PriorLoadingTests
{
    [Fact]
    public void APyTorchPriorWithTheReferenceKeysLoadsAndReproducesItsLogits()
    {
        using var scope = NewDisposeScope();
        var exp = Fixture.Json("absorbing_tiny.json");
        using var model = PriorCheckpoint.Load(Fixture.PathOf("absorbing_tiny.th"), heads: exp.GetProperty("heads").GetInt32());
        var c = model.Config;
        Assert.Equal(exp.GetProperty("codebook").GetInt32(), c.CodebookSize);
        Assert.Equal(exp.GetProperty("emb").GetInt32(), c.Emb);
        Assert.Equal(exp.GetProperty("layers").GetInt32(), c.Layers);
        Assert.Equal(exp.GetProperty("block").GetInt32(), c.BlockSize);
        Assert.Equal(1000, model.NumTimesteps); // 1001-long bookkeeping buffers were accepted

        var shape = exp.GetProperty("shape").Longs();
        var idx = from_array<long>(exp.GetProperty("idx").Longs(), shape[0], shape[1]);
        var want = exp.GetProperty("logits").Doubles();
        using (no_grad())
        {
            var reference = model.forward(idx).to(float64).ToArray<double>();
            using var fast = new TransformerInference(model.TransformerBackbone);
            var fused = fast.Logits(idx).to(float64).ToArray<double>();
            for (var i = 0; i < want.Length; i++)
            {
                Assert.True(Math.Abs(reference[i] - want[i]) < 1e-4, $"forward logit {i}: {reference[i]} vs PyTorch {want[i]}");
                Assert.True(Math.Abs(fused[i] - want[i]) < 1e-4, $"inference-path logit {i}: {fused[i]} vs PyTorch {want[i]}");
            }
            // bfloat16 products: close, not equal (the benchmark reports the error at full size).
            using var bf = new TransformerInference(model.TransformerBackbone, InferencePrecision.BFloat16);
            var low = bf.Logits(idx).to(float64).ToArray<double>();
            var maxErr = want.Select((w, i) => Math.Abs(w - low[i])).Max();
            Assert.InRange(maxErr, 1e-7, 0.25);
        }
        // Probabilities at chosen positions equal the softmax of the full logits there.
        using var inf = new TransformerInference(model.TransformerBackbone);
        var rows = tensor(new long[] { 0, 2, 2 });
        var pos = tensor(new long[] { 3, 0, 15 });
        var picked = inf.ProbabilitiesAt(idx, rows, pos);
        var full = inf.Logits(idx).softmax(-1);
        Assert.True(picked.allclose(full.index(rows, pos), atol: 1e-6));
    }

    [Fact]
    public void OurCheckpointHasTheReferenceKeysAndReloads()
    {
        using var scope = NewDisposeScope();
        using var m = Fixture.TinyPrior();
        var keys = m.state_dict().Keys.ToList();
        Assert.Equal(new[] { "Lt_history", "Lt_count", "loss_history", "_denoise_fn.pos_emb", "_denoise_fn.start_tok", "_denoise_fn.tok_emb.weight" }, keys.Take(6));
        Assert.Contains("_denoise_fn.blocks.1.attn.value.bias", keys);
        Assert.Contains("_denoise_fn.blocks.0.mlp.2.weight", keys);
        Assert.Equal("_denoise_fn.head.weight", keys[^1]);
        var dir = Directory.CreateTempSubdirectory("ut-prior-").FullName;
        try
        {
            var path = Path.Combine(dir, "absorbing_1.th");
            save(m.state_dict(), path);
            using var back = PriorCheckpoint.Load(path, heads: 4);
            var idx = randint(0, 13, new long[] { 2, 16 });
            Assert.True(back.forward(idx).equal(m.forward(idx)));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BadPriorsAreNamedClearly()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => PriorCheckpoint.FromStateDict(new Dictionary<string, Tensor> { ["encoder.weight"] = zeros(2) }, 8));
        Assert.Contains("not an absorbing-diffusion prior", e.Message);
        using var m = Fixture.TinyPrior();
        var sd = m.state_dict();
        Assert.Contains("does not divide the width 32", Assert.Throws<SettingException>(() => PriorCheckpoint.FromStateDict(sd, 5)).Message);
        var broken = new OrderedDictionary<string, Tensor>(sd);
        broken.Remove("_denoise_fn.blocks.1.ln2.bias");
        broken["_denoise_fn.extra"] = zeros(1);
        e = Assert.Throws<ArgumentException>(() => PriorCheckpoint.FromStateDict(broken, 4));
        Assert.Contains("_denoise_fn.blocks.1.ln2.bias", e.Message);
        Assert.Contains("_denoise_fn.extra", e.Message);
        Assert.Contains("holds 9 tokens", Assert.Throws<SettingException>(() => GridShape.Of(m.Config.BlockSize, "3x3")).Message);
        Assert.Equal((2, 8), GridShape.Of(m.Config.BlockSize, "2x8"));
        Assert.Equal((4, 4), GridShape.Of(m.Config.BlockSize, null));
    }
}

public class ForwardProcessAndLossTests
{
    [Fact]
    public void QSampleMasksEachTokenWithProbabilityTOverT()
    {
        using var scope = NewDisposeScope();
        using var m = Fixture.TinyPrior(block: 16, timesteps: 16);
        using var g = new Generator(5);
        var x0 = randint(0, 12, new long[] { 4000, 16 }, g);
        foreach (var step in new[] { 1, 4, 8, 12, 16 })
        {
            using var noise = RowNoise.Seeded((ulong)step, 4000);
            var (xt, x0Ignore, mask) = m.q_sample(x0, full(new long[] { 4000 }, step, int64), noise);
            var frac = mask.@float().mean().item<double>();
            Assert.InRange(frac, step / 16.0 - 0.01, step / 16.0 + 0.01);
            Assert.True(xt.masked_select(mask).eq(12).all().item<bool>());
            Assert.True(xt.masked_select(mask.logical_not()).equal(x0.masked_select(mask.logical_not())));
            Assert.True(x0Ignore.masked_select(mask.logical_not()).eq(-1).all().item<bool>());
            Assert.True(x0Ignore.masked_select(mask).equal(x0.masked_select(mask)));
        }
        // The fixed schedule masks exactly max(1, round(t/T*D)) per row.
        var t = tensor(new long[] { 1, 5, 8, 16 });
        using var four = RowNoise.Seeded(6, 4);
        var (_, _, fixedMask) = m.q_sample_mlm(x0[..4], t, four);
        Assert.Equal(new long[] { 1, 5, 8, 16 }, fixedMask.sum(1).ToArray<long>());
        // Uniform time sampling covers 1..T.
        using var many = RowNoise.Seeded(7, 5000);
        var (ts, pt) = m.sample_time(many, Device.CPU);
        Assert.Equal(1L, ts.min().item<long>());
        Assert.Equal(16L, ts.max().item<long>());
        Assert.Equal(1 / 16f, pt[0].item<float>(), 6);
    }

    [Theory]
    [InlineData(LossType.Elbo)]
    [InlineData(LossType.ReweightedElbo)]
    [InlineData(LossType.Mlm)]
    public void EachLossEqualsAHandComputation(LossType lossType)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var m = new AbsorbingDiffusion(new TransformerConfig(12, 32, 4, 2, 16), timesteps: 16, loss: lossType);
        m.eval();
        using var g = new Generator(9);
        using var n1 = RowNoise.Seeded(9, 3);
        using var n2 = RowNoise.Seeded(9, 3);
        var x0 = randint(0, 12, new long[] { 3, 16 }, g);
        using var result = m.train_loss(x0, n1);

        // By hand: the same draws (t, then the mask), then the formulas of spec section 4.2.
        var (t, _) = m.sample_time(n2, Device.CPU);
        var (xt, _, mask) = m.q_sample(x0, t, n2);
        Assert.True(t.equal(result.T));
        var logp = m.forward(xt).log_softmax(-1).to(float64);
        var x = x0.ToArray<long>();
        var mk = mask.ToArray<bool>();
        var tv = t.ToArray<long>();
        double total = 0;
        for (var b = 0; b < 3; b++)
        {
            double ce = 0;
            var masked = 0;
            for (var p = 0; p < 16; p++)
                if (mk[b * 16 + p]) { ce -= logp[b, p, x[b * 16 + p]].item<double>(); masked++; }
            var vb = ce * 16 / (tv[b] * Math.Log(2) * 16);
            Assert.Equal(vb, result.VbPerSample[b].item<float>(), 3);
            total += lossType switch
            {
                LossType.Elbo => vb,
                LossType.ReweightedElbo => (1 - tv[b] / 16.0) * ce / (Math.Log(2) * 16),
                _ => ce / Math.Max(masked, 1),
            };
        }
        Assert.Equal(total / 3, result.Loss.item<double>(), 4);
        Assert.True(m.Lt_count.sum().item<float>() == 3);
    }
}

/// <summary>A denoiser whose distributions are fixed: uniform, or one-hot per position.</summary>
internal sealed class FixedDenoiser(int length, int codebook, Func<int, int>? target = null) : ITokenDenoiser
{
    public int Length => length;
    public int CodebookSize => codebook;
    public int MaskId => codebook;
    public long Calls, Positions;

    public float[] Probabilities(ReadOnlySpan<long> tokens, int rows, IReadOnlyList<WantedPosition> wanted)
    {
        Calls++;
        Positions += wanted.Count;
        var p = new float[wanted.Count * codebook];
        for (var i = 0; i < wanted.Count; i++)
        {
            if (target is null) p.AsSpan(i * codebook, codebook).Fill(1f / codebook);
            else p[i * codebook + target(wanted[i].Position)] = 1;
        }
        return p;
    }
}

public class SamplerTests
{
    [Fact]
    public void RevealsFollowTheOneOverTLawAndLeaveNoMask()
    {
        const int L = 16, S = 16, runs = 3000;
        var perStep = new double[S];
        var firstStepHits = new double[L];
        var denoiser = new FixedDenoiser(L, 5);
        for (var run = 0; run < runs; run++)
        {
            var sampler = new TokenSampler(denoiser, new ReciprocalRevealSchedule(S), 1.0);
            long last = 0;
            var seq = sampler.Sample(1, (ulong)run, progress: p =>
            {
                perStep[p.Step - 1] += p.Revealed - last;
                last = p.Revealed;
            })[0];
            Assert.DoesNotContain(5L, seq);
            Assert.All(seq, t => Assert.InRange(t, 0, 4));
        }
        // With S = L, E[tokens revealed at each step] = 1 exactly (remaining ~ t, each w.p. 1/t).
        for (var k = 0; k < S; k++) Assert.InRange(perStep[k] / runs, 0.9, 1.1);
        // The first step reveals each position with probability 1/S.
        var sched = new ReciprocalRevealSchedule(S);
        var into = new List<int>();
        var all = new MaskedPositions(L);
        for (var run = 0; run < runs; run++)
        {
            sched.Candidates(0, all, (ulong)run, 0, into);
            foreach (var pos in into) firstStepHits[pos]++;
        }
        Assert.All(firstStepHits, h => Assert.InRange(h / runs, 1.0 / S - 0.02, 1.0 / S + 0.02));
    }

    [Fact]
    public void OnlyRevealedPositionsAreAskedForAndEmptyStepsCostNoPass()
    {
        var denoiser = new FixedDenoiser(16, 6, pos => pos % 6);
        var sampler = new TokenSampler(denoiser, new ReciprocalRevealSchedule(64), 1.0);
        var seq = sampler.Sample(1, 42)[0];
        Assert.Equal(Enumerable.Range(0, 16).Select(p => (long)(p % 6)), seq);
        Assert.Equal(16, denoiser.Positions);       // each position asked for exactly once
        Assert.True(denoiser.Calls < 64);            // steps revealing nothing ran no network pass
    }

    [Fact]
    public void TemperatureSharpensAndFlattensAsPToTheOneOverTau()
    {
        var probs = new float[] { 0.6f, 0.3f, 0.1f };
        foreach (var tau in new[] { 0.5, 1.0, 2.0 })
        {
            var w = probs.Select(p => Math.Pow(p, 1 / tau)).ToArray();
            var counts = new double[3];
            const int n = 60000;
            for (var i = 0; i < n; i++) counts[Categorical.Sample(probs, tau, (i + 0.5) / n)]++;
            for (var k = 0; k < 3; k++) Assert.InRange(counts[k] / n, w[k] / w.Sum() - 0.002, w[k] / w.Sum() + 0.002);
        }
        Assert.Equal(1, Categorical.Sample(new float[] { 0, 1, 0 }, 1, 0.999999));
        Assert.Throws<ArgumentException>(() => Categorical.Sample(new float[] { 0, 0 }, 1, 0.5));
    }

    [Fact]
    public void SeedsReproduceAndBatchingDoesNotChangeSamples()
    {
        using var scope = NewDisposeScope();
        using var m = Fixture.TinyPrior();
        m.eval();
        using var inf = new TransformerInference(m.TransformerBackbone);
        var denoiser = new TransformerDenoiser(inf, Device.CPU);
        var sampler = new TokenSampler(denoiser, new ReciprocalRevealSchedule(8), 0.9);
        var a = sampler.Sample(5, 123, batchSize: 5);
        var b = sampler.Sample(5, 123, batchSize: 2);
        var c = sampler.Sample(5, 124, batchSize: 5);
        var single = sampler.Sample(1, 123, firstIndex: 3)[0];
        for (var i = 0; i < 5; i++) Assert.Equal(a[i], b[i]);
        Assert.Equal(a[3], single);
        Assert.NotEqual(a.SelectMany(x => x), c.SelectMany(x => x));
        Assert.All(a.SelectMany(x => x), t => Assert.InRange(t, 0, 11));
        var mlm = new MlmSampler(denoiser, 6, m.NumTimesteps, 1.0).Sample(3, 9);
        Assert.All(mlm.SelectMany(x => x), t => Assert.InRange(t, 0, 11));
        Assert.Equal(mlm, new MlmSampler(denoiser, 6, m.NumTimesteps, 1.0).Sample(3, 9));
    }
}
