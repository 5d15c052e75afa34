using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;
using F = UnleashingTransformers.Torch.torch.nn.functional;

namespace UnleashingTransformers.Models.Evaluation;

/// <summary>
/// Sliced Wasserstein distance between two image sets on Laplacian-pyramid patches, as Karras et al. 2018
/// ("Progressive Growing of GANs", section 5) define it: a Laplacian pyramid per image (5x5 binomial filter,
/// mirrored edges, down to 16 px), 128 random 7x7 neighbourhoods per image and level, each level's
/// descriptors normalised per channel over the set, then 4 x 128 random unit directions: the mean absolute
/// difference of the sorted projections. Reported x 1000 per level (finest first) and their mean. Needs no
/// network. Lower is closer; two samples of one distribution give a small positive figure.
/// </summary>
public static class SlicedWasserstein
{
    public const int Neighbourhood = 7, PatchesPerImage = 128, DirectionRepeats = 4, DirectionsPerRepeat = 128, CoarsestLevel = 16;

    /// <summary>Distances per pyramid level (finest first) x 1000, for (N, 3, H, W) float image sets of equal N and size.</summary>
    public static double[] Distance(Tensor a, Tensor b, ulong seed = 0)
    {
        if (a.dim() != 4 || b.dim() != 4 || !a.shape.SequenceEqual(b.shape) || a.size(1) != 3)
            throw new ArgumentException($"SWD compares two (N, 3, H, W) sets of one shape, got [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}]");
        if (a.size(2) < CoarsestLevel || a.size(3) < CoarsestLevel) throw new ArgumentException($"SWD needs images of at least {CoarsestLevel} px a side");
        using var scope = NewDisposeScope();
        using var g = new Generator(seed);
        var pa = Pyramid(a.to(float32));
        var pb = Pyramid(b.to(float32));
        var result = new double[pa.Count];
        for (var level = 0; level < pa.Count; level++)
        {
            var da = Descriptors(pa[level], g);
            var db = Descriptors(pb[level], g);
            result[level] = 1e3 * Sliced(da, db, g);
        }
        return result;
    }

    private static readonly float[] Binomial = { 1, 4, 6, 4, 1 };

    private static Tensor Filter(double gain)
    {
        var k = new float[25];
        for (var i = 0; i < 5; i++)
            for (var j = 0; j < 5; j++) k[i * 5 + j] = (float)(Binomial[i] * Binomial[j] / 256.0 * gain);
        return from_array(k, 1, 1, 5, 5).expand(3, 1, 5, 5).contiguous();
    }

    private static Tensor Blur(Tensor x, double gain) => F.conv2d(F.pad(x, new long[] { 2, 2, 2, 2 }, "reflect"), Filter(gain), groups: 3);

    private static Tensor Down(Tensor x) => Blur(x, 1).slice(2, 0, x.size(2), 2).slice(3, 0, x.size(3), 2).contiguous();

    private static Tensor Up(Tensor x, long height, long width)
    {
        var up = zeros(new[] { x.size(0), x.size(1), height, width });
        up.slice(2, 0, height, 2).slice(3, 0, width, 2).copy_(x);
        return Blur(up, 4);
    }

    /// <summary>Laplacian levels, finest first, while the level is at least 16 px; the last is the low-pass rest.</summary>
    private static List<Tensor> Pyramid(Tensor x)
    {
        var levels = new List<Tensor> { x };
        for (var size = Math.Min(x.size(2), x.size(3)) / 2; size >= CoarsestLevel; size /= 2)
        {
            var down = Down(levels[^1]);
            levels[^1] = levels[^1] - Up(down, levels[^1].size(2), levels[^1].size(3));
            levels.Add(down);
        }
        return levels;
    }

    /// <summary>128 random 7x7 neighbourhoods per image, normalised per channel over the whole set: (N·128, 147).</summary>
    private static Tensor Descriptors(Tensor level, Generator g)
    {
        var (n, h, w) = (level.size(0), level.size(2), level.size(3));
        const int r = Neighbourhood / 2;
        var pixels = level.contiguous().ToArray<float>();
        var count = n * PatchesPerImage;
        var ys = randint(r, h - r, new[] { count }, g).ToArray<long>();
        var xs = randint(r, w - r, new[] { count }, g).ToArray<long>();
        var d = new float[count * 3 * Neighbourhood * Neighbourhood];
        var o = 0;
        for (var p = 0; p < count; p++)
        {
            var image = p / PatchesPerImage;
            for (var c = 0; c < 3; c++)
                for (var dy = -r; dy <= r; dy++)
                {
                    var row = ((image * 3 + c) * h + ys[p] + dy) * w + xs[p];
                    for (var dx = -r; dx <= r; dx++) d[o++] = pixels[row + dx];
                }
        }
        var desc = from_array(d, count, 3, Neighbourhood, Neighbourhood);
        desc = (desc - desc.mean(new long[] { 0, 2, 3 }, keepdim: true)) / desc.std(new long[] { 0, 2, 3 }, unbiased: false, keepdim: true);
        return desc.reshape(count, -1);
    }

    private static double Sliced(Tensor a, Tensor b, Generator g)
    {
        double total = 0;
        for (var repeat = 0; repeat < DirectionRepeats; repeat++)
        {
            var dirs = randn(new[] { a.size(1), DirectionsPerRepeat }, g);
            dirs = dirs / dirs.square().sum(new long[] { 0 }, keepdim: true).sqrt();
            var pa = a.matmul(dirs).sort(0).values;
            var pb = b.matmul(dirs).sort(0).values;
            total += (pa - pb).abs().mean().item<double>();
        }
        return total / DirectionRepeats;
    }
}
