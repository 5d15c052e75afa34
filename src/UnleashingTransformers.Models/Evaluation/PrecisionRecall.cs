using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Models.Evaluation;

/// <summary>Precision, recall, density and coverage of a generated feature set against a real one.</summary>
public sealed record PrecisionRecall(double Precision, double Recall, double Density, double Coverage)
{
    public const int DefaultK = 5;

    /// <summary>
    /// Naeem et al. 2020 ("Reliable fidelity and diversity metrics for generative models"), on k-nearest-neighbour
    /// balls (Euclidean, radius: the distance to the k-th nearest other row of the same set). Precision: the
    /// share of generated rows inside some real ball; recall: the share of real rows inside some generated
    /// ball; density: real balls holding each generated row, over k, averaged (can exceed 1); coverage: the
    /// share of real balls holding some generated row.
    /// </summary>
    public static PrecisionRecall Compute(Tensor real, Tensor fake, int k = DefaultK)
    {
        if (real.dim() != 2 || fake.dim() != 2 || real.size(1) != fake.size(1))
            throw new ArgumentException($"precision/recall compare (N, D) feature sets of one width, got [{string.Join(", ", real.shape)}] and [{string.Join(", ", fake.shape)}]");
        if (k < 1 || real.size(0) <= k || fake.size(0) <= k)
            throw new ArgumentException($"precision/recall with k = {k} need more than {k} feature rows in each set");
        using var scope = NewDisposeScope();
        var r = real.to(float64);
        var f = fake.to(float64);
        var realRadii = Radii(r, k);
        var fakeRadii = Radii(f, k);
        var realToFake = cdist(r, f);                              // (R, F)
        var insideReal = realToFake < realRadii.unsqueeze(1);      // fake j inside real ball i
        var insideFake = realToFake < fakeRadii.unsqueeze(0);      // real i inside fake ball j
        return new PrecisionRecall(
            Precision: insideReal.any(0).to(float64).mean().item<double>(),
            Recall: insideFake.any(1).to(float64).mean().item<double>(),
            Density: insideReal.to(float64).sum(0).mean().item<double>() / k,
            Coverage: (realToFake.min(1).values < realRadii).to(float64).mean().item<double>());
    }

    // Distance from each row to its k-th nearest other row (index k of the sorted row: index 0 is itself).
    private static Tensor Radii(Tensor x, int k) => cdist(x, x).topk(k + 1, largest: false).values.select(1, k);
}
