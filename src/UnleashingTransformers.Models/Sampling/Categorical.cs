namespace UnleashingTransformers.Models.Sampling;

/// <summary>Drawing a token from a probability row, with temperature and optional top-k / top-p filtering.</summary>
public static class Categorical
{
    /// <summary>
    /// Samples an index from <paramref name="probs"/> (non-negative, any sum) at temperature τ:
    /// weights p^(1/τ), which is softmax(logits / τ) when p = softmax(logits), and the reference's
    /// p' ∝ P^(1/τ) for aggregated windows. Inverse CDF with the uniform <paramref name="u"/>, in double.
    /// </summary>
    public static int Sample(ReadOnlySpan<float> probs, double temperature, double u)
    {
        var (inv, max) = Prepare(probs, temperature);
        var plain = Math.Abs(inv - 1) < 1e-12;
        double total = 0;
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

    /// <summary>The most likely index (the lowest of ties): a greedy draw.</summary>
    public static int Argmax(ReadOnlySpan<float> probs)
    {
        var best = 0;
        for (var i = 1; i < probs.Length; i++)
            if (probs[i] > probs[best]) best = i;
        return best;
    }

    /// <summary>
    /// As <see cref="Sample(ReadOnlySpan{float}, double, double)"/>, after keeping only the <paramref name="topK"/>
    /// heaviest tempered weights (0: all) and of those the smallest heaviest-first set whose mass reaches
    /// <paramref name="topP"/> of theirs (1: all). Ties go to the lower index. Without a filter it is the plain draw.
    /// </summary>
    public static int Sample(ReadOnlySpan<float> probs, double temperature, double u, int topK, double topP)
    {
        if ((topK <= 0 || topK >= probs.Length) && topP >= 1) return Sample(probs, temperature, u);
        var (inv, max) = Prepare(probs, temperature);
        var w = new double[probs.Length];
        for (var i = 0; i < w.Length; i++) w[i] = Math.Pow(probs[i] / max, inv);
        var order = Enumerable.Range(0, w.Length).ToArray();
        Array.Sort(order, (a, b) => w[a] != w[b] ? w[b].CompareTo(w[a]) : a.CompareTo(b));
        var kept = topK > 0 ? Math.Min(topK, w.Length) : w.Length;
        if (topP < 1)
        {
            double mass = 0, cumulative = 0;
            for (var j = 0; j < kept; j++) mass += w[order[j]];
            for (var j = 0; j < kept; j++)
            {
                cumulative += w[order[j]];
                if (cumulative >= topP * mass)
                {
                    kept = j + 1;
                    break;
                }
            }
        }
        var keep = new bool[w.Length];
        double total = 0;
        for (var j = 0; j < kept; j++)
        {
            keep[order[j]] = true;
            total += w[order[j]];
        }
        var target = u * total;
        double acc = 0;
        var last = order[0];
        for (var i = 0; i < w.Length; i++)
        {
            if (!keep[i] || w[i] <= 0) continue;
            acc += w[i];
            last = i;
            if (acc > target) return i;
        }
        return last;
    }

    /// <summary>1/τ and the largest entry: weights are scaled by it before the power so tiny temperatures do not
    /// underflow to 0.</summary>
    private static (double inv, double max) Prepare(ReadOnlySpan<float> probs, double temperature)
    {
        if (temperature <= 0) throw new ArgumentException("temperature must be > 0");
        double max = 0;
        foreach (var p in probs) max = Math.Max(max, p);
        if (!(max > 0) || double.IsInfinity(max)) throw new ArgumentException("probability row is all zero or not finite");
        return (1.0 / temperature, max);
    }
}
