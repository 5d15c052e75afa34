using UnleashingTransformers.Models.VqGan;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Tests;

public class VqGanTests
{
    [Fact]
    public void APyTorchVqGanWithTheReferenceKeysDecodesAndEncodesAsPyTorch()
    {
        using var scope = NewDisposeScope();
        var exp = Fixture.Json("vqgan_tiny.json");
        using var ae = VqGanCheckpoint.Load(Fixture.PathOf("vqgan_tiny.th"));
        Assert.Equal(4, ae.Downscale);
        Assert.Equal(16, ae.quantize.CodebookSize);

        var shape = exp.GetProperty("decoded_shape").Longs();
        var tokens = from_array<long>(exp.GetProperty("tokens").Longs(), 2, 4, 4);
        var decoded = ae.decode(tokens);
        Assert.Equal(shape, decoded.shape);
        var want = exp.GetProperty("decoded").Doubles();
        var got = decoded.to(float64).ToArray<double>();
        var worst = want.Select((w, i) => Math.Abs(w - got[i])).Max();
        Assert.True(worst < 1 / 255.0, $"decoded pixels differ from PyTorch's by up to {worst}");

        var image = (Tensor)((PyDict)load(Fixture.PathOf("vqgan_tiny_inputs.pt"))!)["image"]!;
        Assert.Equal(exp.GetProperty("encoded").Longs(), ae.encode(image).ToArray<long>());
    }

    [Fact]
    public void ReferenceSizeModelHasTheSpecsParameterCounts()
    {
        using var scope = NewDisposeScope();
        var c = new VqGanConfig();
        using var ae = VqAutoEncoder.FromConfig(c);
        using var disc = new Discriminator(3, c.Ndf, c.DiscLayers);
        // Counts from unleashing-spec.md section 2.8 (built there with PyTorch from the reference sources).
        Assert.Equal(30_349_568, ae.encoder.parameter_count());
        Assert.Equal(262_144, ae.quantize.parameter_count());
        Assert.Equal(35_168_262, ae.generator.parameter_count());
        Assert.Equal(147_971, ae.generator.logsigma.parameter_count());
        Assert.Equal(2_765_633, disc.parameter_count());
        Assert.Equal(22, ae.encoder.blocks.Count);
        Assert.Equal(22, ae.generator.blocks.Count);
        Assert.Equal(16, ae.Downscale);
        // Keys as the reference's: flat block lists, conv_out on every ResBlock, BatchNorm statistics.
        var keys = ae.state_dict().Keys.ToHashSet();
        Assert.Contains("encoder.blocks.1.conv_out.weight", keys);
        Assert.Contains("encoder.blocks.14.q.weight", keys);
        Assert.Contains("encoder.blocks.12.conv.weight", keys);
        Assert.Contains("generator.blocks.8.conv.weight", keys);
        Assert.Contains("generator.logsigma.2.weight", keys);
        Assert.Contains("quantize.embedding.weight", keys);
        Assert.Contains("main.9.running_var", disc.state_dict().Keys);
        // The block lists read back from the keys are the ones the config builds.
        var sd = ae.state_dict().ToDictionary(kv => "ae." + kv.Key, kv => kv.Value);
        Assert.Equal(BlockLists.Encoder(c), BlockLists.FromStateDict(sd, "ae.encoder.blocks.", BlockKind.Down));
        Assert.Equal(BlockLists.Generator(c), BlockLists.FromStateDict(sd, "ae.generator.blocks.", BlockKind.Up));
    }

    [Fact]
    public void QuantizerLossAndStraightThroughGradient()
    {
        using var scope = NewDisposeScope();
        using var q = new VectorQuantizer(3, 2, beta: 0.25);
        using (no_grad()) q.embedding.weight.copy_(tensor(new float[] { 0, 0, 1, 1, -1, 2 }, 3, 2));
        // Two positions (1x2 grid): nearest codes are 1 ([1, 1]) and 2 ([-1, 2]).
        var z = tensor(new float[] { 0.9f, -0.8f, 1.2f, 2.1f }, 1, 2, 1, 2).requires_grad_();
        var (zq, loss, stats) = q.quantize(z);
        Assert.Equal(new long[] { 1, 2 }, stats.Indices.flatten().ToArray<long>());
        Assert.Equal(new float[] { 1, -1, 1, 2 }, zq.detach().flatten().ToArray<float>());
        // mean((sg[zq]-z)^2) + 0.25 mean((zq-sg[z])^2) = 1.25 * mean of squared differences.
        var diffs = new[] { 1 - 0.9, -1 + 0.8, 1 - 1.2, 2 - 2.1 };
        Assert.Equal(1.25 * diffs.Select(d => d * d).Average(), loss.item<float>(), 5);
        Assert.Equal(2.0, stats.Perplexity, 5);  // two codes used equally
        // Straight-through: d(sum(zq * w))/dz = w.
        var w = tensor(new float[] { 1, 2, 3, 4 }, 1, 2, 1, 2);
        var g = torch.autograd.grad(new[] { (zq * w).sum() }, new[] { z })[0]!;
        Assert.Equal(w.flatten().ToArray<float>(), g.flatten().ToArray<float>());
    }

    [Fact]
    public void DecodingALargerGridGivesALargerImage()
    {
        using var scope = NewDisposeScope();
        using var ae = VqGanCheckpoint.Load(Fixture.PathOf("vqgan_tiny.th"));
        var image = ae.decode(randint(0, 16, new long[] { 1, 4, 8 }));
        Assert.Equal(new long[] { 1, 3, 16, 32 }, image.shape);
        Assert.Equal(new long[] { 1, 5 * 3 }, ae.encode(rand(1, 3, 20, 12)).shape);
    }

    [Fact]
    public void NonVqGanFilesAreRefusedClearly()
    {
        var e = Assert.Throws<ArgumentException>(() => VqGanCheckpoint.Load(Fixture.PathOf("absorbing_tiny.th")));
        Assert.Contains("not a VQ-GAN checkpoint", e.Message);
    }
}

public class CodePaletteTests
{
    [Fact]
    public void EachCodeHasTheMeanColourOfItsBlockDecodedInContextAndMaskedTokensAreGrey()
    {
        using var scope = NewDisposeScope();
        using var ae = VqGanCheckpoint.Load(Fixture.PathOf("vqgan_tiny.th"));
        var k = (int)ae.quantize.CodebookSize;
        var palette = CodePalette.Of(ae);
        Assert.Equal(k * 3, palette.Length);
        Assert.Equal(palette, CodePalette.Of(ae));                                  // computed the same every time
        Assert.True(Enumerable.Range(0, k).Select(c => (palette[3 * c], palette[3 * c + 1], palette[3 * c + 2])).Distinct().Count() > k / 2,
            "codes get colours of their own");
        // Code 1's colour, by hand: the mean of its 2x2 block amid the palette's background, decoded.
        using var g = new Torch.Generator(0);
        var ids = randint(0, k, new long[] { 1, 8, 8 }, g);
        ids.narrow(1, 3, 2).narrow(2, 3, 2).fill_(1);
        var f = ae.Downscale;
        var mean = ae.decode(ids).narrow(2, 3 * f, 2 * f).narrow(3, 3 * f, 2 * f).mean(new long[] { 2, 3 }).clamp(0, 1)[0];
        for (var ch = 0; ch < 3; ch++) Assert.Equal(Math.Floor(mean[ch].item<float>() * 255 + 0.5), palette[3 + ch]);

        var pixels = CodePalette.Draw([1, k, 0, -1], palette);                      // k (the mask id) and -1 are not codes
        Assert.Equal(palette[3..6], pixels[0..3]);
        Assert.Equal(new byte[] { 128, 128, 128 }, pixels[3..6]);
        Assert.Equal(palette[0..3], pixels[6..9]);
        Assert.Equal(new byte[] { 128, 128, 128 }, pixels[9..12]);
    }
}
