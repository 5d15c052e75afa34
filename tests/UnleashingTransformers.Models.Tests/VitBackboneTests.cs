using System.Text.Json;
using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Sampling.Schedules;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Testing;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Tests;

public class VitBackboneTests : TempDirTest
{
    private static VitConfig Settings(int patch = 2) => new(new TransformerConfig(CodebookSize: 12, Emb: 32, Heads: 4, Layers: 2, BlockSize: 24), 4, 6, patch);
    private static Dit Tiny(int patch = 2) => new(Settings(patch));

    [PyTorchFact]
    public void ForwardsReproducePyTorchsDitAndUvit()
    {
        var (code, output) = PyTorch.Run(Fixture.PathOf("make_vit_fixtures.py"), Dir);
        Assert.True(code == 0, output);
        var settings = JsonDocument.Parse(File.ReadAllText(P("vit.json"))).RootElement;
        Assert.Equal(2, settings.GetProperty("patch").GetInt32());
        foreach (var (name, network) in new (string, PriorNetwork)[] { ("dit", Tiny()), ("uvit", new Uvit(Settings())) })
        {
            using var scope = NewDisposeScope();
            using var _ = network;
            network.load_state_dict(load_state_dict(P($"{name}.pt")));   // every key, same names and shapes
            var io = (PyDict)load(P($"{name}_io.pt"))!;
            using var noGrad = no_grad();
            var ours = network.forward((Tensor)io["idx"]!);
            var theirs = (Tensor)io["logits"]!;
            Assert.Equal(theirs.shape, ours.shape);
            var diff = (ours - theirs).abs().max().item<float>();
            Assert.True(diff < 1e-4, $"{name}: max |difference| {diff}");
            Assert.True(theirs.abs().max().item<float>() > 0.1);   // not a comparison of zeros
        }
    }

    [Fact]
    public void AnUntrainedDitIsUniformAndTheTimeIsTheShareMasked()
    {
        using var scope = NewDisposeScope();
        using var dit = Tiny();
        using var _ = no_grad();
        var idx = randint(0, 12, new long[] { 2, 24 }, null, int64);
        Assert.Equal(0f, dit.forward(idx).abs().max().item<float>());   // adaLN-Zero: modulations and output start at zero

        // With weights, the same tokens read as another time give other logits: the mask share is the time input.
        foreach (var p in dit.parameters()) p.normal_(0, 0.3);
        var a = idx.clone();
        var b = idx.clone();
        b[0, 0].fill_(12);   // one more position masked in row 0 only
        var (la, lb) = (dit.forward(a), dit.forward(b));
        Assert.True((la[0, 5] - lb[0, 5]).abs().max().item<float>() > 1e-4);
        Assert.True((la[1] - lb[1]).abs().max().item<float>() < 1e-6);
    }

    [Theory]
    [InlineData("dit")]
    [InlineData("uvit")]
    public void ACheckpointRecordsTheBackboneAndLoadsAsOneThatSamples(string model)
    {
        using var scope = NewDisposeScope();
        using var prior = new AbsorbingDiffusion(PriorNetworks.Create(PriorNetworks.Parse(model), Settings().Transformer, 4, 6, new BackboneOptions { Patch = 2 }), timesteps: 16);
        using (no_grad())
            foreach (var p in prior.parameters()) p.normal_(0, 0.3);
        var path = P("absorbing_dit.th");
        save(PriorCheckpoint.Recorded(prior.state_dict(), prior._denoise_fn), path);

        using var loaded = PriorCheckpoint.Load(path);
        Assert.Equal(prior._denoise_fn.GetType(), loaded._denoise_fn.GetType());
        Assert.Equal((4, 6), loaded._denoise_fn.Grid);
        Assert.Equal(prior.Config with { MlpHidden = 128 }, loaded.Config);   // the width read back from the shapes
        Assert.Equal(prior.state_dict().Keys, loaded.state_dict().Keys);
        using var _ = no_grad();
        var idx = randint(0, 13, new long[] { 3, 24 }, null, int64);
        Assert.True(prior.forward(idx).equal(loaded.forward(idx)));

        // Samplers see it through the generic denoiser: the forward's softmax at the wanted positions.
        var (denoiser, owned) = loaded.Denoiser(InferencePrecision.Float32, Device.CPU);
        Assert.Null(owned);
        var tokens = idx.ToArray<long>();
        var wanted = new List<WantedPosition> { new(0, 3), new(2, 23) };
        var probs = denoiser.Probabilities(tokens, 3, wanted);
        var expected = loaded.forward(idx).softmax(-1);
        for (var k = 0; k < 12; k++)
        {
            Assert.Equal(expected[0, 3, k].item<float>(), probs[k], 5);
            Assert.Equal(expected[2, 23, k].item<float>(), probs[12 + k], 5);
        }
        var samples = new TokenSampler(denoiser, new ReciprocalRevealSchedule(6), 1.0).Sample(2, 1);
        Assert.All(samples, s => Assert.All(s, t => Assert.InRange(t, 0, 11)));
        Assert.Throws<InvalidOperationException>(() => loaded.TransformerBackbone);
    }

    [Fact]
    public void BadSettingsAreRefused()
    {
        var c = new TransformerConfig(CodebookSize: 12, Emb: 32, Heads: 4, Layers: 1, BlockSize: 24);
        Assert.Contains("patch 4 does not divide the grid 4x6", Assert.Throws<SettingException>(() => new Dit(new VitConfig(c, 4, 6, 4))).Message);
        Assert.Contains("does not hold the window's 24 tokens", Assert.Throws<ArgumentException>(() => new Dit(new VitConfig(c, 5, 5))).Message);
        Assert.Contains("give an even N", Assert.Throws<SettingException>(() => new Uvit(new VitConfig(c, 4, 6))).Message);
        Assert.Contains("expected transformer, dit, uvit, nat or sundae", Assert.Throws<SettingException>(() => PriorNetworks.Parse("hyena")).Message);
    }
}
