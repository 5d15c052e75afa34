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

/// <summary>
/// NAT Diffuser's model (the flat layout) against a PyTorch forward written from its module
/// (Fixtures/make_nat_diffuser_fixture.py: masked full attention by NATTEN's window rule in place of natten): their
/// files load unchanged, bare or as their sampler saves them, and give their logits; ours load in their module.
/// </summary>
public sealed class NatDiffuserTests : TempDirTest
{
    private static readonly int[] TheirDilations = [1, 4, 8, 16];

    [PyTorchFact]
    public void TheirForwardIsReproducedTheirFilesLoadAndOursLoadInTheirs()
    {
        var (code, output) = PyTorch.Run(Fixture.PathOf("make_nat_diffuser_fixture.py"), "make", Dir);
        Assert.True(code == 0, output);
        using var scope = NewDisposeScope();
        var io = (PyDict)load(P("nat_diffuser_io.pt"))!;
        var (idx, theirs) = ((Tensor)io["idx"]!, (Tensor)io["logits"]!);
        Assert.True(theirs.abs().max().item<float>() > 1);   // not a comparison of small numbers
        foreach (var file in new[] { "nat_diffuser.pt", "absorbing_nat_diffuser.th" })
        {
            using var prior = PriorCheckpoint.Load(P(file));
            var nat = Assert.IsType<Nat>(prior._denoise_fn);
            var s = nat.Settings;
            Assert.Equal((NatLayout.Flat, NatPositions.Learned, 7, 16, 16, 8, 2), (s.Layout, s.HeadPositions, s.Kernel, s.GridHeight, s.GridWidth, s.Transformer.Heads, s.Transformer.Layers));
            Assert.Equal(TheirDilations, s.HeadDilations);
            using var _ = no_grad();
            var diff = (prior.forward(idx) - theirs).abs().max().item<float>();
            Assert.True(diff < 1e-4, $"{file}: max |difference| {diff}");
        }
        // A fresh flat model of the same size has exactly their keys and shapes (strict load), and what we save of it
        // loads in their module strictly and gives our logits there.
        using var fresh = new AbsorbingDiffusion(PriorNetworks.Create(NatBackbone.Instance, new(CodebookSize: 16, Emb: 384, Heads: 8, Layers: 2, BlockSize: 256), 16, 16,
            new BackboneOptions { Layout = NatLayout.Flat }), timesteps: 256);
        fresh._denoise_fn.load_state_dict(load_state_dict(P("nat_diffuser.pt")));
        using (no_grad())
            foreach (var p in fresh.parameters()) p.add_(randn_like(p) * 0.05);   // other weights than theirs
        using (no_grad())
        {
            var ours = fresh.forward(idx);
            save(new PyDict { ["idx"] = idx, ["logits"] = ours }, P("ours_io.pt"));
        }
        save(PriorCheckpoint.Recorded(fresh.state_dict(), fresh._denoise_fn), P("ours.th"));
        (code, output) = PyTorch.Run(Fixture.PathOf("make_nat_diffuser_fixture.py"), "check", P("ours.th"), P("ours_io.pt"));
        Assert.True(code == 0, output);
        Assert.True(double.Parse(output.Trim().Split('\n')[^1], System.Globalization.CultureInfo.InvariantCulture) < 1e-4, output);
        // Ours load back as the flat layout from its record, and sample their window.
        using var loaded = PriorCheckpoint.Load(P("ours.th"));
        Assert.Equal(NatLayout.Flat, Assert.IsType<Nat>(loaded._denoise_fn).Settings.Layout);
        var (denoiser, owned) = loaded._denoise_fn.Denoiser(InferencePrecision.Float32, Device.CPU);
        using (owned)
        {
            var samples = new TokenSampler(denoiser, new RevealStep(new HaltonRevealSchedule(8, 16, 16, MaskScheduleKind.Cosine), TokenSampling.Plain(1))).Sample(1, 3);
            Assert.All(samples[0], t => Assert.InRange(t, 0, 15));
        }
    }

    [Fact]
    public void TheFlatLayoutRunsOnItsWindowOnlyAndTakesNatDiffusersPositions()
    {
        using var scope = NewDisposeScope();
        var small = new TransformerConfig(CodebookSize: 10, Emb: 32, Heads: 4, Layers: 1, BlockSize: 64);
        using var nat = new Nat(new NatConfig(small, 8, 8, 3, [1, 2], Layout: NatLayout.Flat));
        Assert.NotNull(nat.pos_emb);   // learned positions by default, as NAT Diffuser adds its pos_emb
        Assert.False(nat.Settings.AnyGrid);
        Assert.Contains("attends along its flattened 8x8 grid", Assert.Throws<ArgumentException>(() => nat.forward(full(new long[] { 1, 120 }, small.MaskId, int64), 12, 10)).Message);
        Assert.Contains("leave out positions none", Assert.Throws<SettingException>(() => new Nat(new NatConfig(small, 8, 8, 3, [1, 2], NatPositions.None, NatLayout.Flat))).Message);
        Assert.Contains("needs a sequence of at least 70 tokens", Assert.Throws<ArgumentException>(() => new Nat(new NatConfig(small, 8, 8, 7, [1, 10], Layout: NatLayout.Flat))).Message);
        // The 1-D neighbourhoods: kernel members of the position's residue class, centred, pushed inwards at the ends.
        using var along = Neighborhoods.Along(20, 3, 4);
        Assert.Equal(new long[] { 0, 4, 8 }, along[0].ToArray<long>());
        Assert.Equal(new long[] { 5, 9, 13 }, along[9].ToArray<long>());
        Assert.Equal(new long[] { 11, 15, 19 }, along[19].ToArray<long>());
        Assert.Contains("kernel, dilations, positions and layout are for backbone nat",
            Assert.Throws<SettingException>(() => PriorNetworks.Create(DitBackbone.Instance, small, 8, 8, new BackboneOptions { Layout = NatLayout.Flat })).Message);
    }
}
