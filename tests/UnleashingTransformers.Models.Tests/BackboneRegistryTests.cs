using UnleashingTransformers.Models.Backbones;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Testing;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Tests;

/// <summary>Every registered backbone is found by its name, built, recorded in a checkpoint and read back as itself,
/// with the same outputs: what the registry promises a new backbone gets from its one line.</summary>
public sealed class BackboneRegistryTests : TempDirTest
{
    private static readonly TransformerConfig Small = new(CodebookSize: 10, Emb: 32, Heads: 4, Layers: 2, BlockSize: 16);

    /// <summary>Settings that fit a 4x4 window, for the backbones whose defaults do not.</summary>
    private static BackboneOptions Fitting(PriorBackbone b) => b.Name switch
    {
        "nat" => new BackboneOptions { Kernel = 3, Dilations = [1] },
        "sundae" => new BackboneOptions { Depth = "1-1-1" },
        _ => new BackboneOptions(),
    };

    [Fact]
    public void EveryBackboneRoundTripsThroughItsCheckpointAsItself()
    {
        Assert.Equal(["transformer", "dit", "uvit", "nat", "sundae"], PriorNetworks.All.Select(b => b.Name));
        foreach (var backbone in PriorNetworks.All)
        {
            using var scope = NewDisposeScope();
            Assert.Same(backbone, PriorNetworks.Parse(backbone.Name.ToUpperInvariant()));
            using var prior = new AbsorbingDiffusion(PriorNetworks.Create(backbone, Small, 4, 4, Fitting(backbone)), timesteps: 16);
            Assert.Same(backbone, prior._denoise_fn.Backbone);
            using (no_grad())
                foreach (var p in prior.parameters()) p.normal_(0, 0.2);
            var path = P($"{backbone.Name}.th");
            save(PriorCheckpoint.Recorded(prior.state_dict(), prior._denoise_fn), path);
            using var loaded = PriorCheckpoint.Load(path);
            Assert.Same(backbone, loaded._denoise_fn.Backbone);
            Assert.Equal(prior._denoise_fn.GetType(), loaded._denoise_fn.GetType());
            var idx = randint(0, 10, new long[] { 2, 16 }, null, int64);   // codes only: a uniform-corruption network has no mask id
            using var _ = no_grad();
            Assert.True(prior.forward(idx).equal(loaded.forward(idx)), backbone.Name);
        }
        Assert.Contains("expected transformer, dit, uvit, nat or sundae", Assert.Throws<SettingException>(() => PriorNetworks.Parse("hyena")).Message);
        Assert.Contains("patch is for backbone dit and uvit",
            Assert.Throws<SettingException>(() => PriorNetworks.Create(NatBackbone.Instance, Small, 4, 4, new BackboneOptions { Patch = 2 })).Message);
    }
}
