using UnleashingTransformers.Torch;

namespace UnleashingTransformers.Imaging;

/// <summary>
/// The offline demo dataset: top-down terrain maps, each a crop of one infinite procedural world
/// (fractal value noise for height and moisture; colour bands for deep and shallow water, beach, grass or
/// forest by moisture, rock and snow; hillshading for relief). Structure a model has to learn (coastlines,
/// islands, the order of the bands, smooth relief) and that extends to canvases of any size: a larger
/// canvas is a larger view of the same kind of world. Deterministic: the same seed and index give the
/// same image on every machine.
/// </summary>
public static class TerrainMaps
{
    /// <summary>World units per pixel: a 64-pixel image spans about one and a half "continents".</summary>
    public const double Scale = 1.0 / 40;

    /// <summary>Renders image <paramref name="index"/> of the dataset <paramref name="seed"/> as (3, size, size) in [0, 1].</summary>
    public static Tensor Render(ulong seed, int index, int size)
    {
        // Each image is a crop at a pseudo-random place of the world of this seed.
        var h = Hash(seed, (ulong)index, 0);
        var (ox, oy) = ((h & 0xFFFFF) * 0.37, ((h >> 20) & 0xFFFFF) * 0.37);
        return RenderAt(seed, ox, oy, size, size);
    }

    public static Tensor RenderAt(ulong seed, double ox, double oy, int width, int height)
    {
        var pixels = new float[3 * width * height];
        var plane = width * height;
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var (wx, wy) = (ox + x * Scale, oy + y * Scale);
                var e = Height(seed, wx, wy);
                var m = Fbm(seed ^ 0xA5A5A5A5UL, wx * 0.7 + 100, wy * 0.7 - 50, 3);
                // Relief: light from the north-west on the height's slope.
                var slope = (Height(seed, wx + Scale, wy) - Height(seed, wx - Scale, wy)) - (Height(seed, wx, wy + Scale) - Height(seed, wx, wy - Scale));
                var (r, g, b) = Colour(e, m);
                var shade = e < 0.45 ? 1.0 : Math.Clamp(1 + slope * 9, 0.6, 1.35);
                var i = y * width + x;
                pixels[i] = (float)Math.Clamp(r * shade, 0, 1);
                pixels[plane + i] = (float)Math.Clamp(g * shade, 0, 1);
                pixels[2 * plane + i] = (float)Math.Clamp(b * shade, 0, 1);
            }
        return torch.from_array<float>(pixels, 3, height, width);
    }

    private static double Height(ulong seed, double x, double y) => Fbm(seed, x, y, 5);

    private static (double r, double g, double b) Colour(double e, double m)
    {
        static (double, double, double) Mix((double r, double g, double b) a, (double r, double g, double b) c, double t) =>
            (a.r + (c.r - a.r) * t, a.g + (c.g - a.g) * t, a.b + (c.b - a.b) * t);
        if (e < 0.40) return Mix((0.04, 0.12, 0.35), (0.08, 0.30, 0.58), Math.Clamp((e - 0.25) / 0.15, 0, 1));
        if (e < 0.45) return Mix((0.08, 0.30, 0.58), (0.20, 0.55, 0.70), (e - 0.40) / 0.05);
        if (e < 0.48) return (0.86, 0.80, 0.56);
        if (e < 0.66) return m > 0.5 ? Mix((0.16, 0.45, 0.18), (0.07, 0.30, 0.12), Math.Clamp((m - 0.5) * 4, 0, 1)) : (0.42, 0.63, 0.28);
        if (e < 0.78) return Mix((0.45, 0.40, 0.34), (0.55, 0.52, 0.48), (e - 0.66) / 0.12);
        return (0.95, 0.95, 0.97);
    }

    /// <summary>The palette's bands a pixel's colour (0..1) belongs to, told apart by hue and saturation so that the relief's
    /// shading (x0.6 to x1.35 on land) keeps a band's pixels in it: what evaluation counts terrain maps and samples by.</summary>
    public static TerrainClass ClassOf(double r, double g, double b)
    {
        var (max, min) = (Math.Max(r, Math.Max(g, b)), Math.Min(r, Math.Min(g, b)));
        var saturation = max <= 0 ? 0 : (max - min) / max;
        if (b > r + 0.08 && b >= g) return TerrainClass.Water;                // deep to shallow water: blue leads
        if (g > r && g > b) return r / g > 0.5 ? TerrainClass.Grass : TerrainClass.Forest;   // grass 0.67, forest 0.23-0.36
        if (saturation < 0.1 && b >= 0.98 * r) return TerrainClass.Snow;      // white, bluish if anything
        // Sand and rock are both r >= g >= b; sand's green sits near its red, rock's midway (0.8 against 0.55-0.57,
        // kept by shading, and by clamping at 1 too, which takes sand towards 1).
        if (r >= g && g >= b && r > b) return (g - b) / (r - b) > 0.68 ? TerrainClass.Sand : TerrainClass.Rock;
        return TerrainClass.Other;
    }

    /// <summary>Fractal value noise in about [0, 1]: octaves of smoothly interpolated lattice values.</summary>
    private static double Fbm(ulong seed, double x, double y, int octaves)
    {
        double sum = 0, amplitude = 0.5, norm = 0, frequency = 1;
        for (var o = 0; o < octaves; o++)
        {
            sum += amplitude * ValueNoise(seed + (ulong)o * 7919, x * frequency, y * frequency);
            norm += amplitude;
            amplitude *= 0.5;
            frequency *= 2.03;
        }
        return sum / norm;
    }

    private static double ValueNoise(ulong seed, double x, double y)
    {
        var (xi, yi) = ((long)Math.Floor(x), (long)Math.Floor(y));
        var (fx, fy) = (x - xi, y - yi);
        double L(long a, long b) => (Hash(seed, (ulong)a, (ulong)b) >> 11) * (1.0 / (1UL << 53));
        var (sx, sy) = (fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy));
        var top = L(xi, yi) + (L(xi + 1, yi) - L(xi, yi)) * sx;
        var bottom = L(xi, yi + 1) + (L(xi + 1, yi + 1) - L(xi, yi + 1)) * sx;
        return top + (bottom - top) * sy;
    }

    private static ulong Hash(ulong seed, ulong a, ulong b)
    {
        var z = seed * 0x9E3779B97F4A7C15UL + a * 0xBF58476D1CE4E5B9UL + b * 0x94D049BB133111EBUL + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
