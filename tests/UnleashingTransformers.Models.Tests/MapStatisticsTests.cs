using UnleashingTransformers.Imaging;
using UnleashingTransformers.Models.Evaluation;
using UnleashingTransformers.Torch;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Tests;

public class MapStatisticsTests
{
    private static Tensor Bytes(Tensor unit) => (unit * 255).round().clamp(0, 255).to(ScalarType.Byte);

    [Fact]
    public void TheGeneratorsMapsFallIntoItsBandsShadedOrNot()
    {
        using var scope = NewDisposeScope();
        var maps = Enumerable.Range(0, 6).Select(i => Bytes(TerrainMaps.Render(7, i, 96))).ToList();
        var s = MapStatistics.Of(maps);
        Assert.True(s.ClassShares[(int)TerrainClass.Other] < 0.01, $"other {s.ClassShares[(int)TerrainClass.Other]:P1}");
        foreach (var c in new[] { TerrainClass.Water, TerrainClass.Sand, TerrainClass.Grass, TerrainClass.Forest, TerrainClass.Rock })
            Assert.True(s.ClassShares[(int)c] > 0.005, $"{c} {s.ClassShares[(int)c]:P2}");
        // Every band colour of the palette, at the relief's darkest and brightest shading.
        foreach (var shade in new[] { 0.6, 1.0, 1.35 })
        {
            Assert.Equal(TerrainClass.Sand, TerrainMaps.ClassOf(Math.Min(1, 0.86 * shade), Math.Min(1, 0.80 * shade), Math.Min(1, 0.56 * shade)));
            Assert.Equal(TerrainClass.Rock, TerrainMaps.ClassOf(0.45 * shade, 0.40 * shade, 0.34 * shade));
            Assert.Equal(TerrainClass.Rock, TerrainMaps.ClassOf(0.55 * shade, 0.52 * shade, 0.48 * shade));
            Assert.Equal(TerrainClass.Snow, TerrainMaps.ClassOf(Math.Min(1, 0.95 * shade), Math.Min(1, 0.95 * shade), Math.Min(1, 0.97 * shade)));
            Assert.Equal(TerrainClass.Grass, TerrainMaps.ClassOf(0.42 * shade, 0.63 * shade, 0.28 * shade));
            Assert.Equal(TerrainClass.Forest, TerrainMaps.ClassOf(0.07 * shade, 0.30 * shade, 0.12 * shade));
        }
        Assert.Equal(0, MapStatistics.TotalVariation(s.ClassShares, MapStatistics.Of(maps).ClassShares));
    }

    [Fact]
    public void IslandsBeachesAndAnEightPixelPatternAreCounted()
    {
        using var scope = NewDisposeScope();
        // A sea with two islands: a 10x10 grass one ringed by sand, and a 3x3 rock one.
        var (h, w) = (32, 64);
        var map = zeros(new long[] { 3, h, w });
        void Fill(int top, int left, int side, double r, double g, double b)
        {
            map[0, top..(top + side), left..(left + side)].fill_(r);
            map[1, top..(top + side), left..(left + side)].fill_(g);
            map[2, top..(top + side), left..(left + side)].fill_(b);
        }
        map[0].fill_(0.08);
        map[1].fill_(0.30);
        map[2].fill_(0.58);
        Fill(4, 4, 12, 0.86, 0.80, 0.56);
        Fill(5, 5, 10, 0.42, 0.63, 0.28);
        Fill(20, 40, 3, 0.50, 0.46, 0.41);
        var s = MapStatistics.Of([Bytes(map)]);
        Assert.Equal(2 / (h * w / 1e6), s.LandMassesPerMpx, 6);
        Assert.Equal(1 / (h * w / 1e6), s.WaterBodiesPerMpx, 6);
        Assert.Equal(44.0 / (44 + 8), s.SandyShore, 6);   // the sand ring's 44 pixels and the rock's 8 that touch water
        Assert.Equal(144.0 / (144 + 9), s.LandSizes[7], 6);   // the 144-pixel island is in bin log2 = 7, the rock's 9 in 3
        Assert.Equal(1.0, s.WaterSizes.Sum(), 6);

        // The generator's maps have no peak at 8 px; an 8-px stripe pattern of a tenth of the range stands out.
        var real = Bytes(TerrainMaps.RenderAt(3, 0, 0, 256, 128));
        var stripes = (arange(256) % 8 < 4).to(ScalarType.Float32).mul(0.1).view(1, 1, 256);
        var striped = Bytes((TerrainMaps.RenderAt(3, 0, 0, 256, 128) + stripes).clamp(0, 1));
        var (plain, peaked) = (MapStatistics.Of([real]).PeriodPeak, MapStatistics.Of([striped]).PeriodPeak);
        Assert.True(plain < 1.5 && peaked > 3 * plain, $"plain {plain:F2}, striped {peaked:F2}");
    }
}
