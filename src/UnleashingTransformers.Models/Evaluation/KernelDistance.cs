using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Evaluation;

/// <summary>
/// Kernel distance between two feature sets (KID when the features are Inception's, Bińkowski et al. 2018):
/// the unbiased estimate of the squared maximum mean discrepancy under the cubic polynomial kernel
/// k(x, y) = (x·y / D + 1)^3, averaged over random subsets of m rows of each set (m = the smaller set, at most
/// <see cref="DefaultSubsetSize"/>), as StyleGAN2-ADA's metric does. Unbiased: it can be slightly negative when
/// the sets are samples of one distribution. When m covers both sets every subset is the whole set and one
/// is computed.
/// </summary>
public static class KernelDistance
{
    public const int DefaultSubsets = 100, DefaultSubsetSize = 1000;

    /// <summary>The mean over subsets and its standard deviation.</summary>
    public static (double mean, double std) Compute(Tensor a, Tensor b, int subsets = DefaultSubsets, int subsetSize = DefaultSubsetSize, ulong seed = 0)
    {
        if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(1))
            throw new ArgumentException($"KID compares (N, D) feature sets of one width, got [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}]");
        if (subsets < 1 || subsetSize < 2) throw new ArgumentException("KID needs at least 1 subset of at least 2 rows");
        using var scope = NewDisposeScope();
        var x = a.to(float64);
        var y = b.to(float64);
        var m = (int)Math.Min(Math.Min(x.size(0), y.size(0)), subsetSize);
        if (m < 2) throw new ArgumentException("KID needs at least 2 feature rows in each set");
        if (m == x.size(0) && m == y.size(0)) return (Mmd(x, y), 0);
        using var g = new Generator(seed);
        var values = new double[subsets];
        for (var s = 0; s < subsets; s++)
        {
            using var step = NewDisposeScope();
            values[s] = Mmd(x.index_select(0, randperm(x.size(0), g).narrow(0, 0, m)), y.index_select(0, randperm(y.size(0), g).narrow(0, 0, m)));
        }
        var mean = values.Average();
        return (mean, Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / subsets));
    }

    // Unbiased MMD^2 of two m-row sets: the within-set kernel sums leave out the diagonal.
    private static double Mmd(Tensor x, Tensor y)
    {
        var m = x.size(0);
        var d = x.size(1);
        var within = Kernel(x, x, d) + Kernel(y, y, d);
        var between = Kernel(x, y, d);
        var offDiagonal = within.sum().item<double>() - within.diagonal().sum().item<double>();
        return offDiagonal / (m * (m - 1)) - 2 * between.sum().item<double>() / (m * m);
    }

    private static Tensor Kernel(Tensor x, Tensor y, long d) => (x.matmul(y.t()) / d + 1).pow(3);
}
