using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.Evaluation;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.Tests;

public class EvaluationTests
{
    [Fact]
    public void SlicedWassersteinIsSmallWithinADistributionAndGrowsWithBlurAndNoise()
    {
        using var scope = NewDisposeScope();
        Tensor World(ulong seed, int first, int n) => stack(Enumerable.Range(first, n).Select(i => TerrainMaps.Render(seed, i, 64)).ToList());
        var a = World(0, 0, 48);
        var b = World(0, 48, 48);
        var blurred = F.avg_pool2d(F.pad(b, new long[] { 1, 1, 1, 1 }, "replicate"), new long[] { 3, 3 }, new long[] { 1, 1 });
        var noisy = (b + 0.15 * randn(b.shape, new Generator(3))).clamp(0, 1);

        var same = SlicedWasserstein.Distance(a, b);
        Assert.Equal(3, same.Length);                                           // 64, 32 and 16 px levels
        Assert.Equal(same, SlicedWasserstein.Distance(a, b));                   // seeded: the same figures again
        var blur = SlicedWasserstein.Distance(blurred, a);
        var noise = SlicedWasserstein.Distance(noisy, a);
        // Blur removes the finest level's detail and noise adds some: both move the finest level most.
        Assert.True(blur[0] > 2 * same[0], $"blur {blur[0]:F1} vs same {same[0]:F1}");
        Assert.True(noise[0] > 2 * same[0], $"noise {noise[0]:F1} vs same {same[0]:F1}");
        Assert.True(blur.Average() > same.Average() && noise.Average() > same.Average());
        // Descriptors are normalised per set: a brightness scale alone changes little.
        Assert.True(Math.Abs(SlicedWasserstein.Distance(a * 0.5, b).Average() - same.Average()) < 0.25 * same.Average());
        Assert.Throws<ArgumentException>(() => SlicedWasserstein.Distance(a, b.narrow(0, 0, 10)));
        Assert.Throws<ArgumentException>(() => SlicedWasserstein.Distance(a.narrow(2, 0, 8), b.narrow(2, 0, 8)));
    }
}
