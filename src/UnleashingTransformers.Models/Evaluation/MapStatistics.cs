using UnleashingTransformers.Imaging;
using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Models.Evaluation;

/// <summary>
/// Terrain maps counted as a viewer sees them (whole images, each pixel in a band of <see cref="TerrainMaps"/>'
/// palette): each band's share of the pixels; how much of the land next to water is sand (the beach); the water
/// bodies and land masses (4-connected components of water and of the rest), how many a megapixel and how their
/// area falls into sizes (log2 bins of pixels, area-weighted: where the water and land lie, in ponds or seas); and
/// the horizontal luminance spectrum's power at a period of <see cref="Period"/> px over its neighbours (the
/// VQ-GAN's 8-px tiles show as a peak there). Components are cut by the image's edges: compare sets of one size.
/// </summary>
public sealed record MapStatistics(int Images, long Pixels, double[] ClassShares, double SandyShore,
    double WaterBodiesPerMpx, double LandMassesPerMpx, double[] WaterSizes, double[] LandSizes, double PeriodPeak)
{
    /// <summary>The VQ-GAN's downsampling: a token is this many px a side.</summary>
    public const int Period = 8;
    private const int SizeBins = 32;

    /// <summary>The statistics of (3, H, W) byte images.</summary>
    public static MapStatistics Of(IEnumerable<Tensor> images)
    {
        var classes = new long[Enum.GetValues<TerrainClass>().Length];
        var (shore, sandyShore, waterBodies, landMasses, count, pixels) = (0L, 0L, 0L, 0L, 0, 0L);
        var (waterSizes, landSizes) = (new double[SizeBins], new double[SizeBins]);
        double peak = 0, around = 0;
        foreach (var image in images)
        {
            if (image.dim() != 3 || image.size(0) != 3) throw new ArgumentException($"map statistics take (3, H, W) images, got [{string.Join(", ", image.shape)}]");
            var (h, w) = ((int)image.size(1), (int)image.size(2));
            var rgb = image.ToArray<byte>();
            var plane = h * w;
            var cls = new TerrainClass[plane];
            for (var i = 0; i < plane; i++)
            {
                cls[i] = TerrainMaps.ClassOf(rgb[i] / 255.0, rgb[plane + i] / 255.0, rgb[2 * plane + i] / 255.0);
                classes[(int)cls[i]]++;
            }
            for (var y = 0; y < h; y++)
                for (var x = 0; x < w; x++)
                {
                    var i = y * w + x;
                    if (cls[i] == TerrainClass.Water) continue;
                    var byWater = (x > 0 && cls[i - 1] == TerrainClass.Water) || (x + 1 < w && cls[i + 1] == TerrainClass.Water)
                        || (y > 0 && cls[i - w] == TerrainClass.Water) || (y + 1 < h && cls[i + w] == TerrainClass.Water);
                    if (!byWater) continue;
                    shore++;
                    if (cls[i] == TerrainClass.Sand) sandyShore++;
                }
            waterBodies += Components(cls, w, h, water: true, waterSizes);
            landMasses += Components(cls, w, h, water: false, landSizes);
            if (w % Period == 0)
            {
                var (p, a) = RowPowers(rgb, w, h, w / Period, 3);
                (peak, around) = (peak + p, around + a);
            }
            (count, pixels) = (count + 1, pixels + plane);
        }
        if (count == 0) throw new ArgumentException("map statistics need at least one image");
        var mpx = pixels / 1e6;
        return new MapStatistics(count, pixels, [.. classes.Select(c => (double)c / pixels)], shore == 0 ? 0 : (double)sandyShore / shore,
            waterBodies / mpx, landMasses / mpx, Normalized(waterSizes), Normalized(landSizes), around == 0 ? 0 : peak / around);
    }

    /// <summary>Half the L1 distance of two distributions (0: equal, 1: apart).</summary>
    public static double TotalVariation(double[] a, double[] b) => 0.5 * a.Zip(b, (x, y) => Math.Abs(x - y)).Sum();

    /// <summary>The components of water (or of the rest), each adding its area to its log2 size bin.</summary>
    private static long Components(TerrainClass[] cls, int w, int h, bool water, double[] sizes)
    {
        var seen = new bool[cls.Length];
        var stack = new Stack<int>();
        long found = 0;
        for (var start = 0; start < cls.Length; start++)
        {
            if (seen[start] || (cls[start] == TerrainClass.Water) != water) continue;
            found++;
            long area = 0;
            seen[start] = true;
            stack.Push(start);
            while (stack.TryPop(out var i))
            {
                area++;
                var (x, y) = (i % w, i / w);
                foreach (var j in (ReadOnlySpan<int>)[x > 0 ? i - 1 : -1, x + 1 < w ? i + 1 : -1, y > 0 ? i - w : -1, y + 1 < h ? i + w : -1])
                    if (j >= 0 && !seen[j] && (cls[j] == TerrainClass.Water) == water)
                    {
                        seen[j] = true;
                        stack.Push(j);
                    }
            }
            sizes[Math.Min(SizeBins - 1, (int)Math.Log2(area))] += area;
        }
        return found;
    }

    /// <summary>The luminance rows' power at frequency bin <paramref name="bin"/>, and the mean power of the
    /// 2 x <paramref name="spread"/> bins beside it, each row's luminance made once.</summary>
    private static (double at, double beside) RowPowers(byte[] rgb, int w, int h, int bin, int spread)
    {
        var plane = w * h;
        var beside = Enumerable.Range(1, spread).SelectMany(d => new[] { bin - d, bin + d }).Where(k => k > 0 && k < w / 2).ToArray();
        double at = 0, around = 0;
        var row = new double[w];
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var i = y * w + x;
                row[x] = 0.299 * rgb[i] + 0.587 * rgb[plane + i] + 0.114 * rgb[2 * plane + i];
            }
            var mean = row.Average();
            at += Power(row, mean, bin);
            foreach (var k in beside) around += Power(row, mean, k) / beside.Length;
        }
        return (at, around);
    }

    /// <summary>|DFT|^2 of the row, less its mean, at frequency bin <paramref name="k"/>.</summary>
    private static double Power(double[] row, double mean, int k)
    {
        double re = 0, im = 0;
        for (var x = 0; x < row.Length; x++)
        {
            var angle = -2 * Math.PI * k * x / row.Length;
            (re, im) = (re + (row[x] - mean) * Math.Cos(angle), im + (row[x] - mean) * Math.Sin(angle));
        }
        return re * re + im * im;
    }

    private static double[] Normalized(double[] sizes)
    {
        var sum = sizes.Sum();
        return [.. sizes.Select(s => sum == 0 ? 0 : s / sum)];
    }
}
