using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Evaluation;

/// <summary>
/// Fréchet distance between Gaussians fitted to two feature sets (FID when the features are Inception's,
/// Heusel et al. 2017): |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)), covariances unbiased (N - 1).
/// The trace of the square root is taken as the sum of the square roots of the eigenvalues of
/// S_a^(1/2) S_b S_a^(1/2), which is symmetric and has the eigenvalues of S_a S_b: two symmetric
/// eigendecompositions in float64, where scipy's sqrtm of the non-symmetric product needs complex Schur
/// forms and returns small imaginary parts that are then dropped.
/// </summary>
public static class FrechetDistance
{
    /// <summary>The distance between (N, D) feature sets <paramref name="a"/> and <paramref name="b"/> (N may differ, at least 2 each).</summary>
    public static double Compute(Tensor a, Tensor b)
    {
        if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(1))
            throw new ArgumentException($"FID compares (N, D) feature sets of one width, got [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}]");
        if (a.size(0) < 2 || b.size(0) < 2) throw new ArgumentException("FID needs at least 2 feature rows in each set");
        using var scope = NewDisposeScope();
        var (muA, covA) = Moments(a.to(float64));
        var (muB, covB) = Moments(b.to(float64));
        var rootA = SymmetricSqrt(covA);
        var (eigenvalues, _) = linalg.eigh(rootA.matmul(covB).matmul(rootA));
        var traceRoot = eigenvalues.clamp_min(0).sqrt().sum().item<double>();
        var meanTerm = (muA - muB).pow(2).sum().item<double>();
        return meanTerm + covA.trace().item<double>() + covB.trace().item<double>() - 2 * traceRoot;
    }

    private static (Tensor mean, Tensor covariance) Moments(Tensor x)
    {
        var mean = x.mean(0);
        var centred = x - mean;
        return (mean, centred.t().matmul(centred) / (x.size(0) - 1));
    }

    // A covariance's square root: V diag(sqrt(max(lambda, 0))) V^T (rounding can leave tiny negative eigenvalues).
    private static Tensor SymmetricSqrt(Tensor covariance)
    {
        var (lambda, v) = linalg.eigh(covariance);
        return (v * lambda.clamp_min(0).sqrt()).matmul(v.t());
    }
}
