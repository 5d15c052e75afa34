using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.Diffusion;
using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Testing;
using Xunit;
using static UnleashingTransformers.Torch.torch;
using UnleashingTransformers.Models.Sampling;

namespace UnleashingTransformers.Cli.Tests;

public class BundledModelTests : TempDirTest
{
    private static string Bundled(string file) => Path.Combine(AppContext.BaseDirectory, "models", "terrain", file);

    [Fact]
    public void TheBundledCheckpointsLoadAndFitTogether()
    {
        using var scope = NewDisposeScope();
        using var prior = PriorCheckpoint.Load(Bundled("absorbing_ema.th"), heads: 8);
        using var vq = VqGanCheckpoint.Load(Bundled("vqgan_ema.th"));
        Assert.Equal(vq.quantize.CodebookSize, prior.Config.CodebookSize);
        Assert.Equal((8, 8), GridShape.Of(prior.Config.BlockSize, null));
        Assert.Equal(8, vq.Downscale);
        // Shipped small: float16 storage, a few MB each.
        Assert.True(new FileInfo(Bundled("absorbing_ema.th")).Length < 8_000_000);
        Assert.True(new FileInfo(Bundled("vqgan_ema.th")).Length < 8_000_000);
    }

    [Fact]
    public void TheMainCommandRunsOnDefaultsAndIsDeterministicForASeed()
    {
        // The README's first command, on a small canvas: only defaults but the size and output.
        var first = Ut.Ok("generate", "--shape", "8x16", "--steps", "16", "--seed", "3", "--out", P("a.png"), "--tokens-out", P("a.json"));
        Assert.Contains("8x16 tokens (128x64 px)", first);
        Ut.Ok("generate", "--shape", "8x16", "--steps", "16", "--seed", "3", "--out", P("b.png"), "--replicas", "2");
        Ut.Ok("generate", "--shape", "8x16", "--steps", "16", "--seed", "4", "--out", P("c.png"));
        Ut.Ok("generate", "--shape", "8x16", "--steps", "16", "--seed", "3", "--out", P("d.png"), "--threads", "2", "--batch", "3");
        Assert.Equal(File.ReadAllBytes(P("a.png")), File.ReadAllBytes(P("b.png")));
        Assert.Equal(File.ReadAllBytes(P("a.png")), File.ReadAllBytes(P("d.png")));
        Assert.NotEqual(File.ReadAllBytes(P("a.png")), File.ReadAllBytes(P("c.png")));
        using var scope = NewDisposeScope();
        var image = Images.Load(P("a.png"));
        Assert.Equal(new long[] { 3, 64, 128 }, image.shape);
        // Terrain, not noise: neighbouring pixels mostly agree (a decoded random grid would not).
        var step = (image.narrow(2, 1, 127) - image.narrow(2, 0, 127)).abs().mean().item<float>();
        Assert.True(step < 0.08, $"mean horizontal step {step}");
        Ut.Ok("sample", "--count", "1", "--steps", "8", "--out", P("s"), "--vqgan", Bundled("vqgan_ema.th"));
        Assert.True(File.Exists(P("s/sample_000.png")));
    }

    [Fact]
    public void TheDemoDatasetIsDeterministic()
    {
        Ut.Ok("dataset", "terrain", "--out", P("d1"), "--count", "3", "--size", "32", "--seed", "9");
        Ut.Ok("dataset", "terrain", "--out", P("d2"), "--count", "3", "--size", "32", "--seed", "9");
        Ut.Ok("dataset", "terrain", "--out", P("d3"), "--count", "3", "--size", "32", "--seed", "10");
        for (var i = 0; i < 3; i++)
            Assert.Equal(File.ReadAllBytes(P($"d1/terrain_{i:00000}.png")), File.ReadAllBytes(P($"d2/terrain_{i:00000}.png")));
        Assert.NotEqual(File.ReadAllBytes(P("d1/terrain_00000.png")), File.ReadAllBytes(P("d3/terrain_00000.png")));
        using var scope = NewDisposeScope();
        var img = Images.Load(P("d1/terrain_00001.png"));
        Assert.Equal(new long[] { 3, 32, 32 }, img.shape);
        // Structured: more than one colour band, and smooth (not per-pixel noise).
        Assert.True(img.std().item<float>() > 0.05);
        Assert.True((img.narrow(2, 1, 31) - img.narrow(2, 0, 31)).abs().mean().item<float>() < 0.1);
    }
}
