namespace UnleashingTransformers.Models.Sampling;

/// <summary>Drawing a token from a probability row, with temperature.</summary>
public static class Categorical
{
    /// <summary>
    /// Samples an index from <paramref name="probs"/> (non-negative, any sum) at temperature τ:
    /// weights p^(1/τ), which is softmax(logits / τ) when p = softmax(logits), and the reference's
    /// p' ∝ P^(1/τ) for aggregated windows. Inverse CDF with the uniform <paramref name="u"/>, in double.
    /// </summary>
    public static int Sample(ReadOnlySpan<float> probs, double temperature, double u)
    {
        if (temperature <= 0) throw new ArgumentException("temperature must be > 0");
        var inv = 1.0 / temperature;
        var plain = Math.Abs(inv - 1) < 1e-12;
        double total = 0;
        // Scale by the largest entry before the power so tiny temperatures do not underflow to 0.
        double max = 0;
        foreach (var p in probs) max = Math.Max(max, p);
        if (!(max > 0)) throw new ArgumentException("probability row is all zero or not finite");
        foreach (var p in probs) total += plain ? p : Math.Pow(p / max, inv);
        var target = u * total;
        double acc = 0;
        var last = 0;
        for (var i = 0; i < probs.Length; i++)
        {
            var w = plain ? probs[i] : Math.Pow(probs[i] / max, inv);
            if (w <= 0) continue;
            acc += w;
            last = i;
            if (acc > target) return i;
        }
        return last; // rounding at the very top of the range
    }
}
