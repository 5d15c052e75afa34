using UnleashingTransformers.Models.Training;
using Xunit;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Tests;

public class WindowCropsTests
{
    [Fact]
    public void EachRowGetsAWindowOfItsGridAtAnOffsetFixedBySeedStepAndRow()
    {
        using var scope = NewDisposeScope();
        // Cell values say where they are: row r, column c of grid b holds 1000b + 10r + c.
        var values = Enumerable.Range(0, 32).SelectMany(b => Enumerable.Range(0, 6 * 7).Select(i => 1000L * b + 10 * (i / 7) + i % 7)).ToArray();
        var rows = from_array(values, 32, 42);
        var crops = WindowCrops.Of("3x4", "6x7", 42, seed: 9);
        Assert.Equal(((6, 7), (3, 4), 12), (crops.Grid, crops.Window, crops.Tokens));
        var cut = crops.Random(rows, step: 5);
        Assert.Equal(new long[] { 32, 12 }, cut.shape);
        var offsets = new HashSet<long>();
        for (var b = 0; b < 32; b++)
        {
            var w = cut[b].ToArray<long>();
            var (top, left) = ((int)(w[0] % 1000 / 10), (int)(w[0] % 10));
            Assert.InRange(top, 0, 3);
            Assert.InRange(left, 0, 3);
            offsets.Add(w[0] % 1000);
            for (var r = 0; r < 3; r++)
                for (var c = 0; c < 4; c++) Assert.Equal(1000L * b + 10 * (top + r) + left + c, w[r * 4 + c]);   // a window of its own grid
        }
        Assert.True(offsets.Count > 8, $"{offsets.Count} distinct offsets among 32 rows");
        Assert.True(cut.equal(crops.Random(rows, step: 5)));   // a function of (seed, step, row): resumed runs repeat
        Assert.False(cut.equal(crops.Random(rows, step: 6)));
        Assert.Equal(new long[] { 11, 12, 13, 14 }, crops.Centre(rows)[0].ToArray<long>()[..4]);   // (6-3)/2, (7-4)/2
        Assert.Contains("crop 7x4 does not fit", Assert.Throws<SettingException>(() => WindowCrops.Of("7x4", "6x7", 42, 0)).Message);
        Assert.Contains("grid is needed: the latents' 42 tokens a row are not a square grid", Assert.Throws<SettingException>(() => WindowCrops.Of("3x3", null, 42, 0)).Message);
    }
}
